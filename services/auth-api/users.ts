import { keys } from '../shared/keys.ts'
import type { Redis } from '../shared/redis.ts'

/**
 * A user as stored in Redis: hash `user:<username>` with fields id, username, password_hash
 * (see passwords.ts for its format) and can_transact ("true" / "false"). `users:by-id` maps id → username.
 */
export interface StoredUser {
  id: number
  username: string
  password_hash: string
  can_transact: boolean
}

export function toHash(user: StoredUser): Record<string, string> {
  return {
    id: String(user.id),
    username: user.username,
    password_hash: user.password_hash,
    can_transact: String(user.can_transact),
  }
}

/** The user from its hash, or undefined when the hash is empty or incomplete (treated as no such user). */
export function fromHash(hash: Record<string, string>): StoredUser | undefined {
  const { id, username, password_hash, can_transact } = hash
  if (id === undefined || username === undefined || password_hash === undefined) return undefined
  const numericId = Number(id)
  if (!Number.isSafeInteger(numericId) || numericId < 1) return undefined
  return { id: numericId, username, password_hash, can_transact: can_transact === 'true' }
}

export async function readUser(redis: Redis, username: string): Promise<StoredUser | undefined> {
  return fromHash(await redis.hgetall(keys.user(username)))
}

/** Writes the user and its id index entry in one transaction. */
export async function writeUser(redis: Redis, user: StoredUser, previousId?: number): Promise<void> {
  const multi = redis.multi().hset(keys.user(user.username), toHash(user)).hset(keys.userIds, String(user.id), user.username)
  if (previousId !== undefined && previousId !== user.id) multi.hdel(keys.userIds, String(previousId))
  const results = await multi.exec()
  const failed = results?.find(([err]) => err !== null)
  if (failed) throw failed[0]
}
