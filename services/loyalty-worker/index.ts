import type { Logger } from '../shared/logger.ts'
import { closeQueue, createQueue, TRANSACTION_JOB, transactionJobPolicy } from '../shared/queue.ts'
import { parseDuration } from '../shared/duration.ts'
import { closeRedis, connectRedis, createRedis } from '../shared/redis.ts'
import { listen } from '../shared/server.ts'
import type { TransactionEvent } from '../shared/transaction-event.ts'
import { createLoyaltyApp } from './app.ts'
import { defineLoyaltyCommands } from './award.ts'
import type { LoyaltyWorkerConfig } from './config.ts'
import { guardWorkers } from './kue-guards.ts'
import { defineSweepCommand, sweepOrphanedJobs } from './orphaned-jobs.ts'
import { transactionJobHandler } from './process-transaction.ts'
import { defineSweepFinishedCommand, sweepFinishedRecords, TRIM_POINTS_BELOW_HIGH_WATER } from './retention.ts'
import { defineRepairCommand, watchStuckJobs } from './stuck-jobs.ts'

export interface LoyaltyWorkerOptions {
  /** Runs before each award; tests use it to keep jobs in flight. */
  beforeAward?: (event: TransactionEvent) => Promise<void>
}

// The repair of jobs that sit in the inactive set with no BLPOP token to wake a worker (stuck-jobs.ts).
const STUCK_JOBS_INTERVAL_MS = 5000
// How long a worker waits before fetching again after a failed fetch (Redis down).
const FETCH_RETRY_DELAY_MS = 250
// Jobs a dead worker popped but never started are requeued after one to two of these; the job TTL
// recovers the ones it had started on the same time scale.
const ORPHAN_SWEEP_INTERVAL_MS = transactionJobPolicy.ttlMs
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
  // becomes a command before the client's
  // first command, which auto-pipelining requires (ioredis issue #1931).
  const redis = defineLoyaltyCommands(createRedis(config.REDIS_URL, { name: 'loyalty-worker', logger }))
  defineSweepFinishedCommand(defineSweepCommand(defineRepairCommand(redis)))
  await connectRedis(redis)
  // With the offline queue, kue's commands wait for Redis instead of failing: a failed read between
  // popping a job id and loading the job would lose the job (see shared/queue.ts).
  const queue = createQueue(config.REDIS_URL, logger, { offlineQueue: true })
  const stopWatching = watchStuckJobs(redis, { type: TRANSACTION_JOB, intervalMs: STUCK_JOBS_INTERVAL_MS, logger })
  const stopSweeping = sweepOrphanedJobs(redis, { type: TRANSACTION_JOB, intervalMs: ORPHAN_SWEEP_INTERVAL_MS, logger })
  const stopTrimming = sweepFinishedRecords(redis, {
    intervalMs: FINISHED_SWEEP_INTERVAL_MS,
    trimPercent: config.REDIS_MEMORY_HIGH_WATER_PERCENT - TRIM_POINTS_BELOW_HIGH_WATER,
    logger,
  })
  const drainMs = queueDrainTimeout(config.SHUTDOWN_TIMEOUT_MS)
  const shutDownQueue = async (): Promise<void> => {
    stopWatching()
    stopSweeping()
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
    queue.process(TRANSACTION_JOB, config.LOYALTY_CONCURRENCY, handler)
    guardWorkers(queue, TRANSACTION_JOB, { retryDelayMs: FETCH_RETRY_DELAY_MS, logger })
    const app = createLoyaltyApp(logger, { redis, queue, jwtSecret: config.JWT_SECRET })
    server = await listen(app, config.HTTP_PORT, config.HTTP_HOST)
  } catch (err) {
    await shutDownQueue()
    await closeRedis(redis)
    throw err
  }
  logger.info('loyalty-worker listening', {
    port: server.port,
    concurrency: config.LOYALTY_CONCURRENCY,
    stamps_per_voucher: config.LOYALTY_STAMPS_PER_VOUCHER,
  })
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
