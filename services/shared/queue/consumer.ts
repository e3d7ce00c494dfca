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

type Done = (err?: Error | null, result?: unknown) => void

/**
 * kue's bookkeeping of a job that succeeded, minus what its removal undoes at once. On success kue's
 * worker writes the job's duration and result, its progress, moves it to the complete sets (a MULTI of
 * six commands), counts the attempt, and only then, for a job saved with removeOnComplete (every
 * transaction job), deletes all of it: about 12 Redis commands and 4 round trips per job for nothing
 * anyone reads (docs/performance.md, scenario 8). For such a job they are skipped, and kue's removal
 * takes it out of the active sets, where it still is. If the removal does not happen (Redis down, the
 * process killed), the job stays active and its TTL retries it, which finds the transaction awarded
 * (the award is idempotent): still exactly once, as when the completion itself was lost.
 */
function skipBookkeepingUndoneByRemoval(job: Job): void {
  const kueJob = job as unknown as {
    removeOnComplete(): unknown
    set(key: string, value: unknown, fn?: () => void): unknown
    complete(fn: () => void): unknown
    attempt(fn: () => void): unknown
  }
  if (!kueJob.removeOnComplete()) return
  kueJob.set = (_key, _value, fn) => {
    fn?.()
    return kueJob
  }
  kueJob.complete = (fn) => {
    fn()
    return kueJob
  }
  kueJob.attempt = (fn) => {
    fn()
    return kueJob
  }
}

/** The handler as kue sees it: a success reports no result (the job is removed, nobody reads it). */
function withLeanCompletion(handler: (job: Job, done: Done) => void): (job: Job, done: Done) => void {
  return (job, done) => {
    handler(job, (err, result) => {
      if (err) {
        done(err)
        return
      }
      if (!(job as unknown as { removeOnComplete(): unknown }).removeOnComplete()) {
        done(null, result)
        return
      }
      skipBookkeepingUndoneByRemoval(job)
      done(null)
    })
  }
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
  options: { concurrency: number; handler: (job: Job, done: Done) => void; logger: Logger },
): TransactionJobConsumer {
  const { concurrency, handler, logger } = options
  const commands = defineQueueCommands(redis)
  const stopWatching = watchStuckJobs(commands, { type: TRANSACTION_JOB, intervalMs: STUCK_JOBS_INTERVAL_MS, logger })
  const stopSweeping = sweepOrphanedJobs(commands, { type: TRANSACTION_JOB, intervalMs: ORPHAN_SWEEP_INTERVAL_MS, logger })
  queue.process(TRANSACTION_JOB, concurrency, withLeanCompletion(handler))
  guardWorkers(queue, TRANSACTION_JOB, { retryDelayMs: FETCH_RETRY_DELAY_MS, logger })
  return {
    stop: () => {
      stopWatching()
      stopSweeping()
    },
  }
}
