import { Ajv, type ErrorObject } from 'ajv'
import { unauthorized, unknownFieldsError, unprocessable } from '../shared/errors.ts'
import type { Logger } from '../shared/logger.ts'
import { tokenRequestSchema } from '../shared/openapi.ts'
import type { Redis } from '../shared/redis.ts'
import type { VerifiedCredentials } from './credentials-cache.ts'
import { parsePasswordHash, type PasswordHasher } from './passwords.ts'
import { readUser, type StoredUser } from './users.ts'

export interface Credentials {
  username: string
  password: string
}

// One message for an unknown user and a wrong password: the answer must not tell which usernames exist.
export const INVALID_CREDENTIALS = 'Invalid username or password'

// The body's schema is the OpenAPI document's (the one contract); compiled once, with every error so
// that the username's is found even when the password is bad too.
const validateCredentials = new Ajv({ allErrors: true }).compile<Credentials>(tokenRequestSchema)

/** What is wrong with one field, in the original's words, or undefined when it is fine. */
function problem(body: Record<string, unknown>, name: 'username' | 'password', label: string, errors: ErrorObject[]): string | undefined {
  const failed = errors.filter((error) => error.instancePath === `/${name}` || (error.keyword === 'required' && error.params.missingProperty === name))
  if (failed.length === 0) return undefined
  // Missing, null, empty or only whitespace: blank. Any other non-string (a number, an array from a
  // repeated form field, an object): not a string.
  const value = body[name]
  const notString = failed.some((error) => error.keyword === 'type') && value !== null
  return notString ? `${label} must be a string` : `${label} is blank`
}

/** The username and password of a form or JSON body; the username is checked first, as the original did. */
export function readCredentials(body: Record<string, unknown>): Credentials {
  if (!validateCredentials(body)) {
    const errors = validateCredentials.errors ?? []
    const message = problem(body, 'username', 'Username', errors) ?? problem(body, 'password', 'Password', errors)
    throw message !== undefined ? unprocessable(message) : (unknownFieldsError(errors) ?? unprocessable('Username and password are required'))
  }
  return { username: body.username as string, password: body.password as string }
}

export interface LoginDependencies {
  redis: Redis
  hasher: PasswordHasher
  verified: VerifiedCredentials
  /** A hash of a random password made at start-up with today's parameters: unknown users are checked against it. */
  dummyHash: string
  logger: Logger
}

export type Login = (credentials: Credentials) => Promise<StoredUser>

/**
 * The user these credentials belong to, or a 401. Every failed attempt waits for one full scrypt: an
 * unknown user (or one whose stored hash is unreadable) is verified against the dummy hash, so the
 * response time does not reveal whether the username exists. Only a pair already verified against the
 * same stored hash within the cache's TTL skips scrypt.
 */
export function createLogin(deps: LoginDependencies): Login {
  const { redis, hasher, verified, dummyHash, logger } = deps
  // Identical attempts that arrive together (a client's burst of logins before the first one is cached)
  // share one scrypt instead of each starting its own; every distinct attempt still pays in full. Unknown
  // users go through the same path, so sharing cannot tell them apart from real ones either.
  const inFlight = new Map<string, Promise<boolean>>()
  const verifyOnce = (username: string, password: string, stored: string): Promise<boolean> => {
    const key = verified.fingerprint(username, password, stored)
    let verifying = inFlight.get(key)
    if (verifying === undefined) {
      verifying = hasher.verify(password, stored).finally(() => inFlight.delete(key))
      inFlight.set(key, verifying)
    }
    return verifying
  }

  return async ({ username, password }) => {
    const user = await readUser(redis, username)
    const unreadable = user !== undefined && parsePasswordHash(user.password_hash) === undefined
    if (unreadable) logger.warn({ user_id: user.id }, 'stored password hash is unreadable, re-seed or reset this user')
    if (user === undefined || unreadable) {
      await verifyOnce(username, password, dummyHash)
      throw unauthorized(INVALID_CREDENTIALS)
    }
    if (verified.has(username, password, user.password_hash)) return user
    if (!(await verifyOnce(username, password, user.password_hash))) throw unauthorized(INVALID_CREDENTIALS)
    verified.remember(username, password, user.password_hash)
    return user
  }
}
