import type { RequestHandler } from 'express'
import type { Redis } from './redis.ts'
import { withTimeout } from './errors.ts'

/** A named probe of a dependency; it throws (or rejects) when the dependency is not usable. */
export type HealthCheck = () => Promise<Record<string, unknown> | void>

export const redisCheck =
  (redis: Redis): HealthCheck =>
  async () => {
    await withTimeout(redis.ping(), 1000, 'redis ping')
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
