import type { Logger } from '../logger.ts'
import type { Job, Queue } from './kue-queue.ts'

/**
 * Guards for kue 0.11's workers (pinned: kue is no longer maintained), applied to each worker object
 * that `queue.process` made. The failure modes show up when Redis goes away:
 *
 * 1. A worker whose job fetch (BLPOP) fails retries on the next tick. A client that fails commands at
 *    once while disconnected (no offline queue, or a client that is closing) reports the failure on the
 *    next tick too, so the worker loops on process.nextTick forever: the event loop never reaches I/O,
 *    the client never reconnects, HTTP stops answering, and SIGTERM is never handled. The guard waits
 *    `retryDelayMs` before reporting a failed fetch, which turns the loop into a slow poll.
 *
 * 2. When kue cannot record a failed attempt (the connection drops while it does), it emits 'error' on the
 *    job (no listener there: an uncaught exception) and the worker stops for good, so each outage would
 *    cost one of the LOYALTY_CONCURRENCY slots. The guard listens for the job's error and starts the
 *    worker again after `retryDelayMs`. The job itself is left 'active' in Redis; the job TTL sweep
 *    fails it back to the queue and the idempotent award makes its retry safe.
 */

type Done = (err?: unknown, job?: Job) => void
type Handler = (...args: unknown[]) => void

interface KueWorker {
  type: string
  running: boolean
  emit(event: string | symbol, ...args: unknown[]): boolean
  listenerCount(event: string): number
  getJob(fn: Done): void
  failed(job: Job, err: unknown, fn?: Handler): KueWorker
  start(fn: Handler): KueWorker
}

export function guardWorkers(queue: Queue, type: string, options: { retryDelayMs: number; logger: Logger }): void {
  const { retryDelayMs, logger } = options
  const workers = (queue as unknown as { workers: KueWorker[] }).workers.filter((worker) => worker.type === type)
  for (const worker of workers) {
    // A shut-down worker has no listeners left, and a fetch that fails after that (its Redis client is
    // closing) would throw its 'error' as an uncaught exception.
    const emit = worker.emit.bind(worker)
    worker.emit = (event, ...args) => (event === 'error' && worker.listenerCount('error') === 0 ? false : emit(event, ...args))

    const getJob = worker.getJob.bind(worker)
    worker.getJob = (fn) => {
      getJob((err, job) => {
        // A fetch refused because the worker is shutting down is reported at once, as kue expects.
        if (err && worker.running) setTimeout(() => fn(err, job), retryDelayMs)
        else fn(err, job)
      })
    }

    const failed = worker.failed.bind(worker)
    worker.failed = (job, err, fn) => {
      ;(job as unknown as { once(event: 'error', listener: (e: unknown) => void): void }).once('error', (recordErr) => {
        logger.error(
          { job_id: String(job.id), err: recordErr instanceof Error ? recordErr.message : String(recordErr) },
          'kue could not record a failed attempt; the job TTL will retry it',
        )
        if (fn !== undefined && worker.running) setTimeout(() => worker.running && worker.start(fn), retryDelayMs)
      })
      return failed(job, err, fn)
    }
  }
}
