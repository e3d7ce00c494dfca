import type { Logger } from '../shared/logger.ts'
import { closeQueue, consumeTransactionJobs, createQueue, defineQueueCommands, type TransactionJobConsumer } from '../shared/queue/index.ts'
import { parseDuration } from '../shared/duration.ts'
import { closeRedis, connectRedis, createRedis } from '../shared/redis.ts'
import { listen } from '../shared/server.ts'
import type { TransactionEvent } from '../shared/transaction-event.ts'
import { createLoyaltyApp } from './app.ts'
import { defineLoyaltyCommands } from './award.ts'
import type { LoyaltyWorkerConfig } from './config.ts'
import { transactionJobHandler } from './process-transaction.ts'
import { defineSweepFinishedCommand, sweepFinishedRecords, TRIM_POINTS_BELOW_HIGH_WATER } from './retention.ts'

export interface LoyaltyWorkerOptions {
  /** Runs before each award; tests use it to keep jobs in flight. */
  beforeAward?: (event: TransactionEvent) => Promise<void>
}

// How often finished records are swept (retention.ts): often enough that records trimmed under memory
// pressure keep pace with a full-speed load.
const FINISHED_SWEEP_INTERVAL_MS = 1000

/** Leaves the queue's own shutdown some room inside SHUTDOWN_TIMEOUT_MS for closing HTTP and Redis. */
export function queueDrainTimeout(shutdownTimeoutMs: number): number {
  return Math.max(Math.floor(shutdownTimeoutMs / 2), shutdownTimeoutMs - 1500)
}

export async function start(
  config: LoyaltyWorkerConfig,
  logger: Logger,
  options: LoyaltyWorkerOptions = {},
): Promise<{ port: number; stop(): Promise<void> }> {
  // No auto-pipelining here: it holds each command to the end of the tick, and a job's commands run one
  // after another, so the drain was slower with it (measured in docs/performance.md). Every script still
  // becomes a command before the client's first command, which auto-pipelining requires (ioredis #1931).
  const redis = defineLoyaltyCommands(createRedis(config.REDIS_URL, { name: 'loyalty-worker', logger }))
  defineSweepFinishedCommand(defineQueueCommands(redis))
  await connectRedis(redis)
  // With the offline queue, kue's commands wait for Redis instead of failing: a failed read between
  // popping a job id and loading the job would lose the job (see shared/queue/kue-queue.ts).
  const queue = createQueue(config.REDIS_URL, logger, { offlineQueue: true })
  const stopTrimming = sweepFinishedRecords(redis, {
    intervalMs: FINISHED_SWEEP_INTERVAL_MS,
    trimPercent: config.REDIS_MEMORY_HIGH_WATER_PERCENT - TRIM_POINTS_BELOW_HIGH_WATER,
    logger,
  })
  let consumer: TransactionJobConsumer | undefined
  const drainMs = queueDrainTimeout(config.SHUTDOWN_TIMEOUT_MS)
  const shutDownQueue = async (): Promise<void> => {
    consumer?.stop()
    stopTrimming()
    // kue's shutdown waits for a worker event that never comes if Redis fails during it; do not hang.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([closeQueue(queue, drainMs), new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs + 1000)))])
    clearTimeout(timer)
  }

  let server: Awaited<ReturnType<typeof listen>>
  try {
    const handler = transactionJobHandler({
      redis,
      stampsPerVoucher: config.LOYALTY_STAMPS_PER_VOUCHER,
      retentionMs: parseDuration(config.TRANSACTION_RETENTION),
      logger,
      ...(options.beforeAward ? { beforeAward: options.beforeAward } : {}),
    })
    consumer = consumeTransactionJobs(queue, redis, { concurrency: config.LOYALTY_CONCURRENCY, handler, logger })
    const app = createLoyaltyApp(logger, { redis, queue, jwtSecret: config.JWT_SECRET })
    server = await listen(app, config.HTTP_PORT, config.HTTP_HOST)
  } catch (err) {
    await shutDownQueue()
    await closeRedis(redis)
    throw err
  }
  logger.info({ port: server.port, concurrency: config.LOYALTY_CONCURRENCY, stamps_per_voucher: config.LOYALTY_STAMPS_PER_VOUCHER }, 'loyalty-worker listening')
  return {
    port: server.port,
    stop: async () => {
      // Stop taking jobs and let the ones in flight finish; kue fails any still running after drainMs
      // back to the queue (retried elsewhere, and the award stays exactly-once). /me and /health keep
      // answering meanwhile.
      await shutDownQueue()
      await server.close()
      await closeRedis(redis)
    },
  }
}
