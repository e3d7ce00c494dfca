import type { RequestHandler } from 'express'
import type { Redis } from './redis.ts'
import { withTimeout } from './errors.ts'

/** A named probe of a dependency; it throws (or rejects) when the dependency is not usable. */
export type HealthCheck = () => Promise<Record<string, unknown> | void>

/**
 * Whether Redis is at its maxmemory (0: no limit), from INFO memory. The platform's Redis evicts nothing
 * (noeviction), so a full one still answers reads and PING but refuses every write.
 */
function isRedisFull(infoMemory: string): boolean {
  const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(infoMemory)?.[1] ?? 0)
  const max = field('maxmemory')
  return max > 0 && field('used_memory') >= max
}

/** Redis answers, and can still take writes. */
export const redisCheck =
  (redis: Redis): HealthCheck =>
  async () => {
    const info = await withTimeout(redis.info('memory'), 1000, 'redis info')
    if (isRedisFull(info)) throw new Error('redis is full: used_memory has reached maxmemory')
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
