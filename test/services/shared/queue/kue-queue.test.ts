import t from 'tap'
import { type Job, queueCounts, TRANSACTION_JOB } from '../../../../services/shared/queue/index.ts'
import { enqueueTransaction, openQueue } from '../../../helpers/kue-save.ts'
import { memoryLogger } from '../../../helpers/log-sink.ts'
import { startRedis } from '../../../helpers/redis-server.ts'
import { transactionEvent } from '../../../helpers/transaction-fixtures.ts'

t.test('when a transaction is enqueued, then it waits in the queue with its retry policy', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const queue = await openQueue(t, redis.url, memoryLogger().logger)

  const event = transactionEvent(1, { amount: 2000 })
  const id = await enqueueTransaction(queue, event)
  t.match(id, /^\d+$/)
  t.same(await queueCounts(queue), { waiting: 1, active: 0, delayed: 0, failed: 0, completed: 0 })
  const job = await redis.client.hgetall(`q:job:${id}`)
  t.equal(job.type, 'transaction')
  t.same(JSON.parse(job.data ?? '{}'), event)
  t.equal(job.max_attempts, '8')
})

t.test('when Redis is down, then enqueueing fails fast instead of hanging', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const queue = await openQueue(t, redis.url, memoryLogger().logger)
  await queueCounts(queue) // connected
  await redis.kill()
  const event = transactionEvent(1, { amount: 1 })
  const started = Date.now()
  await t.rejects(enqueueTransaction(queue, event))
  t.ok(Date.now() - started < 1000, 'rejected within a second')
})

t.test('when a queue without offline queueing takes a job right after saving it, then the job is processed, not lost', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const queue = await openQueue(t, redis.url, memoryLogger().logger)

  const event = transactionEvent(1, { amount: 5 })
  const id = await enqueueTransaction(queue, event)
  // kue reads the popped job through a client of its own: it must be connected by now.
  const taken = await new Promise<string>((resolve) => queue.process(TRANSACTION_JOB, 2, (job: Job, done: () => void) => {
    done()
    resolve(String(job.id))
  }))
  t.equal(taken, id)
})
