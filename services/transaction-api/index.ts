import type { Logger } from '../shared/logger.ts'
import { closeRedis, connectRedis, createRedis } from '../shared/redis.ts'
import { listen } from '../shared/server.ts'
import { createAdmission } from './admission.ts'
import { createApp } from './app.ts'
import type { TransactionApiConfig } from './config.ts'

export interface RunningTransactionApi {
  port: number
  stop(): Promise<void>
}

/**
 * Starts the Transaction API. It writes each transaction's record and kue job in one script over its one
 * Redis connection, so it does not load kue itself.
 */
export async function start(config: TransactionApiConfig, logger: Logger): Promise<RunningTransactionApi> {
  const redis = createRedis(config.REDIS_URL, { name: 'transaction-api', logger, autoPipelining: true })
  // Does not fail start-up when Redis is not there yet: /health says 503 until it is.
  await connectRedis(redis)
  const admission = createAdmission(redis, { maxBacklog: config.QUEUE_MAX_BACKLOG, highWaterPercent: config.REDIS_MEMORY_HIGH_WATER_PERCENT })
  const app = createApp({ redis, logger, jwtSecret: config.JWT_SECRET, idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS, admission })
  const server = await listen(app, config.HTTP_PORT, config.HTTP_HOST)
  logger.info({ port: server.port }, 'transaction-api listening')
  return {
    port: server.port,
    stop: async () => {
      // In-flight requests finish first: they still need Redis.
      await server.close()
      await closeRedis(redis)
    },
  }
}
