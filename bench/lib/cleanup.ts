import type { Redis } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'

/** Users the benchmark transacts as: ids no seeded user has, so nothing real gains stamps. */
export const BENCH_USER_BASE = 1_000_000

/** Jobs waiting or running on a kue queue (prefix `q` is the platform's). */
export async function queueRemaining(redis: Redis, prefix = 'q'): Promise<number> {
  const [[, inactive], [, active]] = (await redis
    .pipeline()
    .zcard(`${prefix}:jobs:transaction:inactive`)
    .zcard(`${prefix}:jobs:transaction:active`)
    .exec()) as [[null, number], [null, number]]
  return inactive + active
}

export async function failedJobs(redis: Redis, prefix = 'q'): Promise<number> {
  return redis.zcard(`${prefix}:jobs:transaction:failed`)
}

/** Waits until the queue is empty (or `maxMs` pass); returns what is left. */
export async function waitDrained(redis: Redis, maxMs: number, prefix = 'q'): Promise<number> {
  const deadline = Date.now() + maxMs
  let left = await queueRemaining(redis, prefix)
  while (left > 0 && Date.now() < deadline) {
    await sleep(100)
    left = await queueRemaining(redis, prefix)
  }
  return left
}

/**
 * Deletes the transaction records and loyalty of the benchmark's users (user_id ≥ BENCH_USER_BASE), so
 * repeated benchmarks do not fill the platform's Redis. Run only once their jobs are done.
 */
export async function deleteBenchData(redis: Redis): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'transaction:*', 'COUNT', 2000)
    cursor = next
    if (keys.length === 0) continue
    const owners = (await keys.reduce((p, key) => p.hget(key, 'user_id'), redis.pipeline()).exec()) ?? []
    const mine = keys.filter((_, i) => Number(owners[i]?.[1]) >= BENCH_USER_BASE)
    if (mine.length > 0) deleted += await redis.del(...mine)
  } while (cursor !== '0')
  let loyaltyCursor = '0'
  do {
    const [next, keys] = await redis.scan(loyaltyCursor, 'MATCH', 'loyalty:*', 'COUNT', 2000)
    loyaltyCursor = next
    const mine = keys.filter((key) => Number(key.split(':')[1]) >= BENCH_USER_BASE)
    if (mine.length > 0) await redis.del(...mine)
  } while (loyaltyCursor !== '0')
  return deleted
}

/** Removes every key under a bench-only kue prefix. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000)
    cursor = next
    if (keys.length > 0) await redis.del(...keys)
  } while (cursor !== '0')
}

/**
 * Deletes the transaction records of one user created at or after `sinceIso` (a seeded user the sustained
 * scenario transacted as: its records are not under BENCH_USER_BASE). Run only once their jobs are done.
 */
export async function deleteRecordsOf(redis: Redis, userId: number, sinceIso: string): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', 'transaction:*', 'COUNT', 2000)
    cursor = next
    if (found.length === 0) continue
    const fields = (await found.reduce((p, key) => p.hmget(key, 'user_id', 'created_at'), redis.pipeline()).exec()) ?? []
    const mine = found.filter((_, i) => {
      const [owner, createdAt] = (fields[i]?.[1] ?? []) as [string | null, string | null]
      return Number(owner) === userId && createdAt !== null && createdAt >= sinceIso
    })
    if (mine.length > 0) deleted += await redis.del(...mine)
  } while (cursor !== '0')
  return deleted
}
