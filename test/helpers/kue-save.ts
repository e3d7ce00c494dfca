// kue for tests: a queue opened for one test, and a transaction job saved by kue's own Job#save with the
// platform's job policy: how tests and the benchmark produce jobs the kue way (the Transaction API writes the same job with its own script,
// services/shared/queue/transaction-job.ts; create-transaction.test.ts compares the two).
import type { Test } from 'tap'
import type { Logger } from '../../services/shared/logger.ts'
import { closeQueue, createQueue, type Queue, type QueueOptions, queueReady } from '../../services/shared/queue/index.ts'
import type { TransactionEvent } from '../../services/shared/transaction-event.ts'
import { TRANSACTION_JOB, transactionJobPolicy } from '../../services/shared/queue/transaction-job.ts'

/** A kue queue on `redisUrl`, connected to Redis, closed when the test ends. */
export async function openQueue(t: Test, redisUrl: string, logger: Logger, options: QueueOptions = {}): Promise<Queue> {
  const queue = createQueue(redisUrl, logger, options)
  t.teardown(() => closeQueue(queue, 1000))
  await queueReady(queue, 5000)
  return queue
}

/** Saves a transaction job; resolves with kue's job id once Redis has it. `ttlMs`: another job TTL. */
export function enqueueTransaction(queue: Queue, event: TransactionEvent, options: { ttlMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const job = queue
      .create(TRANSACTION_JOB, event)
      .attempts(transactionJobPolicy.attempts)
      .backoff({ delay: transactionJobPolicy.backoffMs, type: 'exponential' })
      .ttl(options.ttlMs ?? transactionJobPolicy.ttlMs)
      // The transaction record keeps the outcome; completed jobs would only grow Redis without bound.
      .removeOnComplete(true)
    job.save((err?: Error) => {
      if (err) reject(err)
      else resolve(String(job.id))
    })
  })
}
