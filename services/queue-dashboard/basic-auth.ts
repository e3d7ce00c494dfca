import { createHash, timingSafeEqual } from 'node:crypto'
import type { RequestHandler } from 'express'
import { HttpError } from '../shared/errors.ts'
import { LRUCache } from 'lru-cache'

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

export const TOO_MANY_ATTEMPTS = 'Too many failed dashboard logins from this address, try again later'

/** Failed logins allowed per client address in a window, before every request from it is refused. */
export interface AttemptLimit {
  failures: number
  windowMs: number
}

export const defaultAttemptLimit: AttemptLimit = { failures: 10, windowMs: 15 * 60_000 }

// Addresses remembered at most: past it the oldest window is forgotten (memory stays bounded).
const MAX_ADDRESSES = 10_000

/**
 * HTTP basic auth for everything after it: a 401 with a `WWW-Authenticate: Basic` challenge (the browser
 * asks for the login) unless the request carries the one user and password. Compared as SHA-256 digests
 * in constant time, so the time taken says nothing about how much of the password was right.
 *
 * An address that sent `limit.failures` wrong logins gets a 429 (Retry-After) for every request until
 * its window ends, a right login included (else the answer would say which guess was right). A request
 * with no login at all is the browser's first ask, not a guess: it is not counted. Kept in memory: the
 * dashboard is one process, and its Redis client is kue's. The address is the one nginx saw.
 */
export function requireLogin(user: string, password: string, limit: AttemptLimit = defaultAttemptLimit): RequestHandler {
  const expected = digest(`${user}:${password}`)
  const challenge = { 'WWW-Authenticate': `Basic realm="${REALM}", charset="UTF-8"` }
  // Bounded: at most MAX_ADDRESSES windows, the least recently used go first.
  const failures = new LRUCache<string, { count: number; endsAt: number }>({ max: MAX_ADDRESSES })
  return (req, _res, next) => {
    const address = req.ip ?? 'unknown'
    const now = Date.now()
    let window = failures.get(address)
    if (window !== undefined && window.endsAt <= now) {
      failures.delete(address)
      window = undefined
    }
    if (window !== undefined && window.count >= limit.failures) {
      next(new HttpError(429, TOO_MANY_ATTEMPTS, { 'Retry-After': String(Math.ceil((window.endsAt - now) / 1000)) }))
      return
    }
    const given = parseBasicAuth(req.get('authorization'))
    if (given !== undefined && timingSafeEqual(digest(`${given.user}:${given.password}`), expected)) {
      next()
      return
    }
    if (given !== undefined) {
      // Neither name nor password is logged: people type one into the other's field.
      req.log.info('dashboard login refused')
      if (window === undefined) {
        window = { count: 0, endsAt: now + limit.windowMs }
        failures.set(address, window)
      }
      window.count++
    }
    next(new HttpError(401, 'Log in to the queue dashboard (HTTP basic auth)', challenge))
  }
}
