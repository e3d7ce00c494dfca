import { createHash, timingSafeEqual } from 'node:crypto'
import type { RequestHandler } from 'express'
import { HttpError } from '../shared/errors.ts'

export const REALM = 'yoyo-platform queue dashboard'

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest()

/** The user and password of an `Authorization: Basic <base64(user:password)>` header, if it is one. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic[ ]+([A-Za-z0-9+/]+={0,2})[ ]*$/i.exec(header ?? '')
  if (match === null) return undefined
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0) return undefined
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/**
 * HTTP basic auth for everything after it: a 401 with a `WWW-Authenticate: Basic` challenge (the browser
 * asks for the login) unless the request carries the one user and password. Compared as SHA-256 digests
 * in constant time, so the time taken says nothing about how much of the password was right.
 */
export function requireLogin(user: string, password: string): RequestHandler {
  const expected = digest(`${user}:${password}`)
  const challenge = { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"` }
  return (req, _res, next) => {
    const given = parseBasicAuth(req.get('authorization'))
    if (given !== undefined && timingSafeEqual(digest(`${given.user}:${given.password}`), expected)) {
      next()
      return
    }
    // Neither name nor password is logged: people type one into the other's field.
    if (given !== undefined) req.log.info('dashboard login refused')
    next(new HttpError(401, 'Log in to the queue dashboard (HTTP basic auth)', challenge))
  }
}
