import type { Logger } from '../logger.ts'
import type { Redis } from '../redis.ts'
import { guardWorkers } from './kue-guards.ts'
import type { Job, Queue } from './kue-queue.ts'
import { defineSweepCommand, sweepOrphanedJobs } from './orphaned-jobs.ts'
import { defineRepairCommand, watchStuckJobs } from './stuck-jobs.ts'
import { TRANSACTION_JOB, transactionJobPolicy } from './transaction-job.ts'

// The repair of jobs that sit in the inactive set with no BLPOP token to wake a worker (stuck-jobs.ts).
const STUCK_JOBS_INTERVAL_MS = 5000
// How long a worker waits before fetching again after a failed fetch (Redis down).
const FETCH_RETRY_DELAY_MS = 250
// Jobs a dead worker popped but never started are requeued after one to two of these; the job TTL
// recovers the ones it had started on the same time scale.
const ORPHAN_SWEEP_INTERVAL_MS = transactionJobPolicy.ttlMs

export interface TransactionJobConsumer {
  /** Stops the repair timers (the queue itself closes with closeQueue). */
  stop(): void
}

/** Adds the repair scripts to a client before its first command (auto-pipelining needs that). */
export function defineQueueCommands<R extends Redis>(redis: R): R {
  return defineSweepCommand(defineRepairCommand(redis))
}

/**
 * Takes transaction jobs off the queue, `concurrency` at a time, with kue's failure modes guarded
 * (kue-guards.ts) and the repairs kue lacks running beside it: stuck jobs woken, orphaned ones requeued.
 * `redis` is an ioredis client for the repairs (kue has its own clients).
 */
export function consumeTransactionJobs(
  queue: Queue,
  redis: Redis,
  options: { concurrency: number; handler: (job: Job, done: (err?: Error | null, result?: unknown) => void) => void; logger: Logger },
): TransactionJobConsumer {
  const { concurrency, handler, logger } = options
  const commands = defineQueueCommands(redis)
  const stopWatching = watchStuckJobs(commands, { type: TRANSACTION_JOB, intervalMs: STUCK_JOBS_INTERVAL_MS, logger })
  const stopSweeping = sweepOrphanedJobs(commands, { type: TRANSACTION_JOB, intervalMs: ORPHAN_SWEEP_INTERVAL_MS, logger })
  queue.process(TRANSACTION_JOB, concurrency, handler)
  guardWorkers(queue, TRANSACTION_JOB, { retryDelayMs: FETCH_RETRY_DELAY_MS, logger })
  return {
    stop: () => {
      stopWatching()
      stopSweeping()
    },
  }
}
