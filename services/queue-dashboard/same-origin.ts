import type { RequestHandler } from 'express'
import { forbidden } from '../shared/errors.ts'

export const crossSiteMessage = 'Cross-site requests may not change the queue'
export const restartMessage = 'Restart a job from the dashboard page (X-Requested-With: XMLHttpRequest)'

// kue's page restarts a job with a GET: a link or an <img> on any site could send it with the
// browser's saved basic-auth login.
const restartPath = /^\/inactive\//

const changesState = (method: string, path: string): boolean =>
  (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS') || (method === 'GET' && restartPath.test(path))

/** Whether a browser said the request comes from another site: Sec-Fetch-Site first, else Origin. */
function fromAnotherSite(secFetchSite: string | undefined, origin: string | undefined, host: string | undefined): boolean {
  if (secFetchSite !== undefined) return secFetchSite !== 'same-origin'
  if (origin === undefined) return false
  try {
    return new URL(origin).host !== host
  } catch {
    return true // "null" (a sandboxed frame, a privacy redirect) or garbage: not this site
  }
}

/**
 * Refuses, with a 403, requests that would change the queue (restart, delete, reprioritise) when a
 * browser says they come from another site. Clients that are not browsers send neither header and
 * hold the login themselves (curl, scripts): they pass. kue's restart, a GET, also needs the
 * X-Requested-With header its page's jQuery sends: a cross-site page cannot add it without a CORS
 * preflight, which the dashboard never grants, and browsers too old for Sec-Fetch-Site send no Origin
 * on a GET. nginx passes the browser's Host:port as X-Forwarded-Host ($host drops the port).
 */
export const refuseCrossSite: RequestHandler = (req, _res, next) => {
  if (!changesState(req.method, req.path)) {
    next()
    return
  }
  const host = req.get('x-forwarded-host') ?? req.get('host')
  if (fromAnotherSite(req.get('sec-fetch-site'), req.get('origin'), host)) {
    req.log.info({ method: req.method, path: req.path }, 'dashboard cross-site change refused')
    next(forbidden(crossSiteMessage))
    return
  }
  if (req.method === 'GET' && req.get('x-requested-with') !== 'XMLHttpRequest') {
    next(forbidden(restartMessage))
    return
  }
  next()
}
