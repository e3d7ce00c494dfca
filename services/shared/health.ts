import type { RequestHandler } from 'express'
import type { Redis } from './redis.ts'
import { isAbove, readRedisMemory } from './redis-memory.ts'

/** A named probe of a dependency; it throws (or rejects) when the dependency is not usable. */
export type HealthCheck = () => Promise<Record<string, unknown> | void>

/** Redis answers, and can still take writes. */
export const redisCheck =
  (redis: Redis): HealthCheck =>
  async () => {
    // A full Redis (noeviction) still answers reads and PING but refuses every write.
    if (isAbove(await readRedisMemory(redis), 100)) throw new Error('redis is full: used_memory has reached maxmemory')
  }

/** GET /health: 200 {"healthy": true, ...} when every check passes, else 503 {"healthy": false, "failing": [...]}. */
export function healthRoute(checks: Record<string, HealthCheck>): RequestHandler {
  return async (_req, res) => {
    const entries = Object.entries(checks)
    const results = await Promise.allSettled(entries.map(([, check]) => check()))
    const failing: string[] = []
    let details: Record<string, unknown> = {}
    results.forEach((result, i) => {
      if (result.status === 'rejected') failing.push(entries[i]![0])
      else if (result.value) details = { ...details, ...result.value }
    })
    if (failing.length > 0) {
      res.status(503).json({ healthy: false, failing })
      return
    }
    res.json({ healthy: true, ...details })
  }
}
