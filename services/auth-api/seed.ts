import { keys } from '../shared/keys.ts'
import type { Redis } from '../shared/redis.ts'
import { needsRehash, scryptHasher, type PasswordHasher } from './passwords.ts'
import { readUser, writeUser } from './users.ts'

export interface SeedUser {
  id: number
  username: string
  password: string
  can_transact: boolean
}

/** The provisioner's smoke test transacts as this user, so it never adds to a person's stamps. */
export const smokeTestUser: SeedUser = { id: 4, username: 'smoke-test', password: 'password', can_transact: true }

/** The original platform's development users and the smoke test's own (all with the password `password`). */
export const developmentUsers: readonly SeedUser[] = [
  { id: 1, username: 'alice', password: 'password', can_transact: true },
  { id: 2, username: 'bob', password: 'password', can_transact: true },
  { id: 3, username: 'charlie', password: 'password', can_transact: false },
  smokeTestUser,
]

export type SeedOutcome = 'created' | 'updated' | 'ok'

export interface SeedResult {
  username: string
  id: number
  result: SeedOutcome
}

/**
 * Creates or corrects each user. Idempotent: a user whose fields match and whose stored hash (made with
 * today's scrypt parameters) verifies the seed password is left alone, so a re-run neither rehashes
 * nor invalidates anyone's cached logins. A hash is only made when the password does not verify or the
 * parameters have changed; otherwise corrected fields keep the existing hash.
 */
export async function seedUsers(
  redis: Redis,
  users: readonly SeedUser[],
  hasher: PasswordHasher = scryptHasher,
): Promise<SeedResult[]> {
  const results: SeedResult[] = []
  for (const seed of users) {
    const existing = await readUser(redis, seed.username)
    const indexed = await redis.hget(keys.userIds, String(seed.id))
    const passwordOk =
      existing !== undefined && !needsRehash(existing.password_hash) && (await hasher.verify(seed.password, existing.password_hash))
    const fieldsOk = existing !== undefined && existing.id === seed.id && existing.can_transact === seed.can_transact
    let result: SeedOutcome = existing === undefined ? 'created' : 'updated'
    if (passwordOk && fieldsOk && indexed === seed.username) {
      result = 'ok'
    } else {
      const password_hash = passwordOk ? existing.password_hash : await hasher.hash(seed.password)
      await writeUser(redis, { id: seed.id, username: seed.username, can_transact: seed.can_transact, password_hash }, existing?.id)
    }
    results.push({ username: seed.username, id: seed.id, result })
  }
  return results
}
