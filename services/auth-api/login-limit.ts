import { createHash } from 'node:crypto'
import { HttpError } from '../shared/errors.ts'
import { keys } from '../shared/keys.ts'
import type { Logger } from '../shared/logger.ts'
import type { Redis } from '../shared/redis.ts'

export interface LoginLimits {
  /** Failed logins for one username, from anywhere, before it is refused for the rest of the window. */
  perUser: number
  /** Failed logins from one client address, for any usernames, before it is refused. */
  perAddress: number
  windowSeconds: number
}

export const TOO_MANY_FAILURES = 'Too many failed logins, try again later'

export interface LoginLimiter {
  /** Throws a 429 (with Retry-After) when the username or the address has used up its failures. */
  check(username: string, address: string): Promise<void>
  /** Counts one failed login against both. */
  failed(username: string, address: string): Promise<void>
}

// Usernames are the client's text: hashed, so a key's size does not depend on it.
const userKey = (username: string) => keys.loginFailuresUser(createHash('sha256').update(username, 'utf8').digest('hex'))

/**
 * Failed logins counted in Redis, per username and per client address, in fixed windows. In Redis
 * rather than in memory: the count is shared by every Auth API process and survives a reload, so
 * scaling or restarting does not multiply the allowance. Only failures count: a user who logs in is
 * never slowed by others' attempts, unless their own username is being guessed (then it waits out the
 * window, as does the guesser: a correct password is refused too, or the 429 would say which one was).
 * The address is the one nginx saw (X-Forwarded-For as nginx sets it); the per-username count does not
 * depend on it. Counting is best effort: when Redis refuses writes (full), logins still work, uncounted.
 */
export function createLoginLimiter(redis: Redis, limits: LoginLimits, logger: Logger): LoginLimiter {
  return {
    async check(username, address) {
      const user = userKey(username)
      const from = keys.loginFailuresAddress(address)
      const [userCount, addressCount] = await redis.mget(user, from)
      const over = Number(userCount ?? 0) >= limits.perUser ? user : Number(addressCount ?? 0) >= limits.perAddress ? from : undefined
      if (over === undefined) return
      const ttl = await redis.ttl(over)
      throw new HttpError(429, TOO_MANY_FAILURES, { 'Retry-After': String(ttl > 0 ? ttl : limits.windowSeconds) })
    },
    async failed(username, address) {
      try {
        await redis
          .multi()
          .incr(userKey(username))
          .expire(userKey(username), limits.windowSeconds, 'NX')
          .incr(keys.loginFailuresAddress(address))
          .expire(keys.loginFailuresAddress(address), limits.windowSeconds, 'NX')
          .exec()
      } catch (err) {
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'failed login not counted')
      }
    },
  }
}
