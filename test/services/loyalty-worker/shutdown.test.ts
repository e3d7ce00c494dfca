import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { start } from '../../../services/loyalty-worker/index.ts'
import { createQueue, closeQueue, queueCounts, queueReady, type Queue } from '../../../services/shared/queue/index.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'
import { startRedis } from '../../helpers/redis-server.ts'
import { allWithStatus, jobHash, loyaltyOf, produce, statuses, transactionEvent, waitFor, workerConfig } from './fixtures.ts'

async function readyQueue(url: string): Promise<Queue> {
  const queue = createQueue(url, memoryLogger().logger)
  await queueReady(queue, 5000)
  return queue
}

t.test('when the worker stops with jobs in flight, then it finishes them, leaves none active, and awards each once', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger('info')
  let inFlight = 0
  const worker = await start(workerConfig(redis.urlOf('loyalty'), { LOYALTY_STAMPS_PER_VOUCHER: 3, LOYALTY_CONCURRENCY: 5, SHUTDOWN_TIMEOUT_MS: 4000 }), logger, {
    beforeAward: async () => {
      inFlight++
      await sleep(300)
      inFlight--
    },
  })
  const queue = await readyQueue(redis.url)
  const ids: string[] = []
  for (let i = 0; i < 20; i++) {
    const event = transactionEvent(30)
    ids.push(event.transaction_id)
    await produce(redis.client, queue, event)
  }
  await waitFor('jobs in flight', async () => inFlight >= 3)
  const stopping = Date.now()
  await worker.stop()
  t.ok(Date.now() - stopping < 4000, 'stopped within SHUTDOWN_TIMEOUT_MS')
  t.equal(inFlight, 0, 'every job in flight finished')

  const records = [...(await statuses(redis.client, ids)).values()]
  const completed = records.filter((r) => r.status === 'completed').length
  t.ok(completed >= 3 && completed < 20, `${completed} completed before the stop`)
  t.same(records.filter((r) => r.status !== 'completed' && r.status !== 'queued'), [], 'none left processing')
  const after = await loyaltyOf(redis.client, 30)
  t.equal(after.stamps + after.vouchers * 3, completed, 'one award per completed transaction')

  const check = await readyQueue(redis.url)
  const counts = await queueCounts(check)
  t.equal(counts.active, 0, 'no job left active')
  t.equal(counts.waiting + counts.delayed, 20 - completed, 'the rest wait for the next worker')
  await closeQueue(check, 1000)

  const next = await start(workerConfig(redis.urlOf('loyalty'), { LOYALTY_STAMPS_PER_VOUCHER: 3 }), logger)
  t.teardown(() => next.stop())
  await allWithStatus(redis.client, ids, 'completed')
  const final = await loyaltyOf(redis.client, 30)
  t.equal(final.transactions, 20)
  t.equal(final.stamps + final.vouchers * 3, 20)
})

t.test('when jobs cannot finish before the shutdown timeout, then they go back to the queue and are awarded once later', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger('info')
  let started = 0
  const worker = await start(workerConfig(redis.urlOf('loyalty'), { LOYALTY_CONCURRENCY: 3, SHUTDOWN_TIMEOUT_MS: 1000 }), logger, {
    beforeAward: async () => {
      started++
      await sleep(1500)
    },
  })
  const queue = await readyQueue(redis.url)
  const ids: string[] = []
  const jobIds: string[] = []
  for (let i = 0; i < 3; i++) {
    const event = transactionEvent(31)
    ids.push(event.transaction_id)
    jobIds.push(await produce(redis.client, queue, event))
  }
  await waitFor('all three jobs in flight', async () => started === 3)
  const stopping = Date.now()
  await worker.stop()
  t.ok(Date.now() - stopping < 1000, 'stopped within SHUTDOWN_TIMEOUT_MS')
  await sleep(1700) // the abandoned handlers wake up to a closed Redis client: no late award

  for (const jobId of jobIds) {
    const job = await jobHash(redis.client, jobId)
    t.match(job, { state: /^(delayed|inactive)$/, attempts: '1' }, `job ${jobId} is back in the queue`)
    t.match(job.error, /Shutdown/)
  }
  t.same(await loyaltyOf(redis.client, 31), { stamps: 0, transactions: 0, vouchers: 0 })
  const check = await readyQueue(redis.url)
  t.equal((await queueCounts(check)).active, 0, 'no job left active')
  await closeQueue(check, 1000)

  const next = await start(workerConfig(redis.urlOf('loyalty')), logger)
  t.teardown(() => next.stop())
  await allWithStatus(redis.client, ids, 'completed')
  t.same(await loyaltyOf(redis.client, 31), { stamps: 3, transactions: 3, vouchers: 0 })
})
