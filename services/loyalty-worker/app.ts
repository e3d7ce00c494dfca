import type { Express } from 'express'
import { unauthorized, withTimeout } from '../shared/errors.ts'
import { healthRoute, redisCheck } from '../shared/health.ts'
import { createHttpApp } from '../shared/http.ts'
import type { Logger } from '../shared/logger.ts'
import { queueCounts, type Queue } from '../shared/queue/index.ts'
import type { Redis } from '../shared/redis.ts'
import { tokenFrom, verifyToken } from '../shared/tokens.ts'
import { readLoyalty } from './award.ts'
import { readVoucherPage } from './voucher-page.ts'

export interface LoyaltyAppDependencies {
  redis: Redis
  queue: Queue
  jwtSecret: string
}

/**
 * GET /health: Redis and the queue's counts (503 when either cannot be read).
 * GET /me with `Authorization: Bearer <jwt>`: the caller's stamps, a page of vouchers (`limit`,
 * `cursor`) and their total, and the transaction count. The token is checked before the query, so
 * nobody learns anything about the parameters before proving who they are.
 */
export function createLoyaltyApp(logger: Logger, deps: LoyaltyAppDependencies): Express {
  const { redis, queue, jwtSecret } = deps
  return createHttpApp(logger, (app) => {
    app.get(
      '/health',
      healthRoute({
        redis: redisCheck(redis),
        queue: async () => ({ queue: await withTimeout(queueCounts(queue), 1000, 'queue counts') }),
      }),
    )

    app.get('/me', async (req, res) => {
      const token = tokenFrom(req.get('authorization'), undefined)
      if (token === undefined) throw unauthorized('Missing bearer token')
      const claims = verifyToken(token, jwtSecret)
      const page = readVoucherPage(req.query as Record<string, unknown>)
      res.json(await readLoyalty(redis, claims.user_id, page))
    })
  })
}
