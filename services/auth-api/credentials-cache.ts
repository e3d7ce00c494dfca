import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { LRUCache } from 'lru-cache'

/**
 * Remembers, for a short while, that a username + password pair was verified against a given stored
 * hash, so that a user logging in again and again does not pay scrypt each time (the hashing would cap
 * the Auth API at a dozen logins per second per core).
 *
 * What is kept is an HMAC-SHA256 of (username, password, stored hash) under a random key that lives
 * only in this process: never the password, and nothing an attacker who reads memory or a heap dump
 * could test guesses against offline without that key. Consequences, by construction:
 * - a wrong password never matches, so every wrong guess still pays the full scrypt cost;
 * - when the stored hash changes (password reset, re-seed), old entries stop matching;
 * - entries expire after `ttlMs`, and at most `maxEntries` users are kept (least recently used go first:
 *   lru-cache keeps that order; the expiry is ours, on the clock the caller gives).
 */
export interface VerifiedCredentials {
  /** Whether this exact pair was verified against this exact stored hash within the TTL. */
  has(username: string, password: string, storedHash: string): boolean
  remember(username: string, password: string, storedHash: string): void
  /** The keyed HMAC of the triple, as text: a name for it that reveals nothing without this process's key. */
  fingerprint(username: string, password: string, storedHash: string): string
  readonly size: number
}

export const DEFAULT_TTL_MS = 60_000
export const DEFAULT_MAX_ENTRIES = 10_000

interface Entry {
  digest: Buffer
  expiresAt: number
}

export function createVerifiedCredentials(
  options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {},
): VerifiedCredentials {
  const { ttlMs = DEFAULT_TTL_MS, maxEntries = DEFAULT_MAX_ENTRIES, now = Date.now } = options
  const key = randomBytes(32)
  // One entry per username: a new verification for the same user replaces the old one.
  const entries = new LRUCache<string, Entry>({ max: maxEntries })

  // Each part is length-prefixed so that ("ab", "c") and ("a", "bc") cannot collide.
  const digestOf = (username: string, password: string, storedHash: string): Buffer => {
    const hmac = createHmac('sha256', key)
    for (const part of [username, password, storedHash]) {
      const bytes = Buffer.from(part, 'utf8')
      const length = Buffer.alloc(4)
      length.writeUInt32BE(bytes.length)
      hmac.update(length).update(bytes)
    }
    return hmac.digest()
  }

  return {
    has(username, password, storedHash) {
      const entry = entries.get(username)
      if (entry === undefined) return false
      if (entry.expiresAt <= now()) {
        entries.delete(username)
        return false
      }
      // The get above made it the most recently used.
      return timingSafeEqual(entry.digest, digestOf(username, password, storedHash))
    },
    remember(username, password, storedHash) {
      entries.set(username, { digest: digestOf(username, password, storedHash), expiresAt: now() + ttlMs })
    },
    fingerprint(username, password, storedHash) {
      return digestOf(username, password, storedHash).toString('base64')
    },
    get size() {
      return entries.size
    },
  }
}
