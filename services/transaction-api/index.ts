import type { Logger } from '../shared/logger.ts'
import { closeQueue, createQueue, queueReady } from '../shared/queue.ts'
import { closeRedis, connectRedis, createRedis } from '../shared/redis.ts'
import { listen } from '../shared/server.ts'
import { createApp } from './app.ts'
import type { TransactionApiConfig } from './config.ts'

export interface RunningTransactionApi {
  port: number
  stop(): Promise<void>
}

// Start-up waits this long for the queue's Redis, then starts anyway: /health says 503 until Redis is up.
const QUEUE_READY_WAIT_MS = 3000

/**
 * Starts the Transaction API. kue keeps one queue per process, so one process runs one Transaction API
 * at a time.
 */
export async function start(config: TransactionApiConfig, logger: Logger): Promise<RunningTransactionApi> {
  const redis = createRedis(config.REDIS_URL, { name: 'transaction-api', logger, autoPipelining: true })
  const queue = createQueue(config.REDIS_URL, logger)
  await connectRedis(redis)
  try {
    await queueReady(queue, QUEUE_READY_WAIT_MS)
  } catch (err) {
    logger.warn('queue not ready yet, starting anyway', { err: err instanceof Error ? err.message : String(err) })
  }
  const app = createApp({ redis, queue, logger, jwtSecret: config.JWT_SECRET, idempotencyTtlSeconds: config.IDEMPOTENCY_TTL_SECONDS })
  const server = await listen(app, config.HTTP_PORT, config.HTTP_HOST)
  logger.info('transaction-api listening', { port: server.port })
  return {
    port: server.port,
    stop: async () => {
      // In-flight requests finish first: they still need Redis and the queue.
      await server.close()
      await closeQueue(queue, config.SHUTDOWN_TIMEOUT_MS)
      await closeRedis(redis)
    },
  }
}
