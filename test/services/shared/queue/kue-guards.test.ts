import { EventEmitter } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { start } from '../../../../services/loyalty-worker/index.ts'
import { guardWorkers } from '../../../../services/shared/queue/kue-guards.ts'
import { closeQueue, createQueue, queueReady, TRANSACTION_JOB, type Job } from '../../../../services/shared/queue/index.ts'
import { enqueueTransaction, openQueue } from '../../../helpers/kue-save.ts'
import { memoryLogger } from '../../../helpers/log-sink.ts'
import { startRedis } from '../../../helpers/redis-server.ts'
import { allWithStatus, loyaltyOf, produce, transactionEvent, waitFor, workerConfig } from '../../loyalty-worker/fixtures.ts'

// kue 0.11's known failure modes, each with a real kue and a real Redis.

t.test('when waiting jobs have lost their wake-up tokens, then the stuck-job watcher lets the worker find them', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger('info')
  const producer = createQueue(redis.url, logger)
  await queueReady(producer, 5000)
  const events = [transactionEvent(1), transactionEvent(1)]
  for (const event of events) await produce(redis.client, producer, event)
  await closeQueue(producer, 1000)
  // The drift kue's watchStuckJobs repairs: jobs in the inactive set, no token in the BLPOP list.
  await redis.client.del('q:transaction:jobs')

  const worker = await start(workerConfig(redis.urlOf('loyalty')), logger)
  t.teardown(() => worker.stop())
  await allWithStatus(redis.client, events.map((e) => e.transaction_id), 'completed', 10_000)
  t.same(await loyaltyOf(redis.client, 1), { stamps: 2, transactions: 2, vouchers: 0 })
})

t.test('when Redis goes away under a fail-fast kue client, then its workers poll slowly instead of starving the event loop', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger('info')
  // The shared default (no offline queue): a failed fetch is reported on the next tick.
  const queue = await openQueue(t, redis.url, logger)
  const processed: string[] = []
  queue.process(TRANSACTION_JOB, 3, (job: Job, done: () => void) => {
    processed.push((job.data as { transaction_id: string }).transaction_id)
    done()
  })
  guardWorkers(queue, TRANSACTION_JOB, { retryDelayMs: 100, logger })
  await sleep(200)

  await redis.kill()
  let ticks = 0
  const timer = setInterval(() => ticks++, 50)
  await sleep(600)
  clearInterval(timer)
  t.ok(ticks >= 5, `timers still run while Redis is down (${ticks} ticks)`)

  t.same(processed, [])
  await redis.start()
  // kue's shutdown gives up without closing anything if Redis is still unreachable: wait for it.
  await queueReady(queue, 5000)
  // Taking jobs again is not asserted here: with fail-fast clients, a fetch that fails while one of
  // kue's clients is still reconnecting drops the job's wake-up token (left for the stuck-job watcher,
  // which this bare queue does not run) or, worse, the popped job itself. That is why the worker runs
  // kue with the offline queue; worker.test.ts checks that it takes jobs again after Redis came back.
})

t.test('when kue cannot record a failed attempt, then the worker neither crashes nor stops taking jobs', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger, entries } = memoryLogger('info')
  const queue = await openQueue(t, redis.url, logger, { offlineQueue: true })
  const processed: string[] = []
  const handler = (job: Job, done: () => void): void => {
    processed.push((job.data as { transaction_id: string }).transaction_id)
    done()
  }
  queue.process(TRANSACTION_JOB, 1, handler)
  guardWorkers(queue, TRANSACTION_JOB, { retryDelayMs: 50, logger })
  const [worker] = (queue as unknown as { workers: { failed(job: unknown, err: unknown, fn: unknown): void }[] }).workers

  // What kue's Job#failedAttempt does when Redis drops its reply: emit 'error' on the job, then call back
  // with it (kue's worker then gives up on this slot for good).
  const job = new EventEmitter()
  Object.assign(job, {
    id: 41,
    failedAttempt(_err: unknown, callback: (err: Error) => void) {
      const lost = new Error('Connection lost')
      job.emit('error', lost)
      callback(lost)
    },
  })
  worker!.failed(job, new Error('award failed'), handler)
  t.match(entries().find((e) => e.msg === 'kue could not record a failed attempt; the job TTL will retry it'), { job_id: '41', err: 'Connection lost' })

  const event = transactionEvent(3)
  await enqueueTransaction(queue, event)
  await enqueueTransaction(queue, transactionEvent(3))
  await waitFor('the worker to take jobs again', async () => processed.length === 2)
  t.ok(processed.includes(event.transaction_id))
})
