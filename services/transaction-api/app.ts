import type { Express } from 'express'
import { healthRoute, redisCheck } from '../shared/health.ts'
import { createHttpApp, requireBody } from '../shared/http.ts'
import type { Logger } from '../shared/logger.ts'
import type { Redis } from '../shared/redis.ts'
import type { Admission } from './admission.ts'
import { createTransaction } from './create-transaction.ts'
import { getOwnTransaction } from './get-transaction.ts'
import { authenticateBearer, readCreateRequest } from './request-validation.ts'
import { acceptedView } from './transaction-views.ts'

export interface AppDeps {
  redis: Redis
  logger: Logger
  jwtSecret: string
  idempotencyTtlSeconds: number
  admission: Admission
}

export function createApp(deps: AppDeps): Express {
  return createHttpApp(deps.logger, (app) => {
    // One connection writes both records and jobs. While it sheds load the API is healthy (it answers, as
    // designed) but says `accepting: false` and why; yoyo-status counts that as a problem.
    // An unreadable backlog means Redis is unreachable, which the redis check reports.
    app.get('/health', healthRoute({ redis: redisCheck(deps.redis), admission: () => deps.admission.state().catch(() => undefined) }))

    // 202, not the original's 200: the transaction is stored and queued, its loyalty is awarded later.
    app.post('/transactions', requireBody, async (req, res) => {
      const request = readCreateRequest(
        { authorization: req.get('authorization'), idempotencyKey: req.get('idempotency-key'), body: req.body as Record<string, unknown> },
        deps.jwtSecret,
      )
      const { record, replayed } = await createTransaction(
        { redis: deps.redis, logger: req.log, idempotencyTtlSeconds: deps.idempotencyTtlSeconds, admission: deps.admission },
        { userId: request.user.user_id, amount: request.amount, currency: request.currency, idempotencyKey: request.idempotencyKey },
      )
      res.status(202).location(`/transactions/${record.id}`)
      if (replayed) res.set('Idempotent-Replayed', 'true')
      res.json(acceptedView(record))
    })

    app.get('/transactions/:id', async (req, res) => {
      const user = authenticateBearer(req.get('authorization'), deps.jwtSecret)
      res.json(await getOwnTransaction(deps.redis, req.params.id, user.user_id))
    })
  })
}
