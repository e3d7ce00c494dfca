// The domain function against a real Redis, with a queue that cannot reach its Redis: what happens to a
// transaction whose job cannot be enqueued, and to its retries.
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { HttpError } from '../../../services/shared/errors.ts'
import { closeQueue, createQueue, type Queue, queueCounts, queueReady } from '../../../services/shared/queue.ts'
import { closeRedis, connectRedis, createRedis } from '../../../services/shared/redis.ts'
import { readTransaction } from '../../../services/shared/transactions.ts'
import { createTransaction, type CreateTransactionDeps } from '../../../services/transaction-api/create-transaction.ts'
import { ORPHAN_AFTER_MS } from '../../../services/transaction-api/idempotency.ts'
import { insertTransaction, NOT_ENQUEUED } from '../../../services/transaction-api/transaction-store.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'
import { freePort } from '../../helpers/ports.ts'
import { startRedis } from '../../helpers/redis-server.ts'

const server = await startRedis()
t.teardown(() => server.stop())
const redis = createRedis(server.url, { name: 'test' })
await connectRedis(redis)
t.teardown(() => closeRedis(redis))
const log = memoryLogger()

// kue keeps one queue per process: each test closes the one it made.
async function withQueue<T>(url: string, use: (queue: Queue) => Promise<T>): Promise<T> {
  const queue = createQueue(url, log.logger)
  try {
    return await use(queue)
  } finally {
    await closeQueue(queue, 500)
  }
}
const deadRedisUrl = async (): Promise<string> => `redis://127.0.0.1:${await freePort()}/0`
const deps = (queue: Queue, now?: () => Date): CreateTransactionDeps => ({ redis, queue, logger: log.logger, idempotencyTtlSeconds: 60, ...(now ? { now } : {}) })
async function rejectsWith(t: Test, promise: Promise<unknown>, status: number): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof HttpError && err.status === status, `rejected with ${status}`)
}
const idFor = async (key: string): Promise<string> => (await server.client.get(`idempotency:1:${key}`)) ?? ''

t.test('when the job cannot be enqueued, then 503 fast and the record is failed, not left looking queued', async (t) => {
  const key = randomUUID()
  const started = Date.now()
  await withQueue(await deadRedisUrl(), (queue) =>
    rejectsWith(t, createTransaction(deps(queue), { userId: 1, amount: 2000, currency: 'GBP', idempotencyKey: key }), 503),
  )
  t.ok(Date.now() - started < 1000, 'within a second')
  const record = await readTransaction(redis, await idFor(key))
  t.match(record, { status: 'failed', error: NOT_ENQUEUED, amount: 2000 })
  t.equal(record?.job_id, undefined)
})

t.test('when a request without a key cannot be enqueued, then its record is failed too', async (t) => {
  const before = new Set(await server.client.keys('transaction:*'))
  await withQueue(await deadRedisUrl(), (queue) =>
    rejectsWith(t, createTransaction(deps(queue), { userId: 1, amount: 42, currency: 'EUR' }), 503),
  )
  const added = (await server.client.keys('transaction:*')).filter((k) => !before.has(k))
  t.equal(added.length, 1)
  t.match(await server.client.hgetall(added[0]!), { status: 'failed', error: NOT_ENQUEUED })
})

t.test('when a request that could not be enqueued is retried with its key, then the same transaction is enqueued', async (t) => {
  const key = randomUUID()
  const input = { userId: 1, amount: 900, currency: 'GBP', idempotencyKey: key }
  await withQueue(await deadRedisUrl(), (queue) => rejectsWith(t, createTransaction(deps(queue), input), 503))
  const id = await idFor(key)

  await withQueue(server.url, async (queue) => {
    await queueReady(queue, 5000)
    const before = await queueCounts(queue)
    const retry = await createTransaction(deps(queue), input)
    t.equal(retry.replayed, false, 'not a replay: the work is done now')
    t.equal(retry.record.id, id, 'the same transaction')
    const record = await readTransaction(redis, id)
    t.match(record, { status: 'queued', amount: 900 })
    t.equal(record?.error, undefined, 'the error is cleared')
    t.match(record?.job_id, /^\d+$/)
    t.equal((await queueCounts(queue)).waiting, before.waiting + 1, 'one job')
    const job = await server.client.hgetall(`q:job:${String(record?.job_id)}`)
    t.equal(JSON.parse(job.data ?? '{}').transaction_id, id)

    const again = await createTransaction(deps(queue), input)
    t.equal(again.replayed, true, 'the next retry is a replay')
    t.equal((await queueCounts(queue)).waiting, before.waiting + 1, 'still one job')
  })
})

t.test('when retries of a failed enqueue race, then only one enqueues it', async (t) => {
  const key = randomUUID()
  const input = { userId: 1, amount: 901, currency: 'GBP', idempotencyKey: key }
  await withQueue(await deadRedisUrl(), (queue) => rejectsWith(t, createTransaction(deps(queue), input), 503))
  await withQueue(server.url, async (queue) => {
    await queueReady(queue, 5000)
    const before = await queueCounts(queue)
    const results = await Promise.all(Array.from({ length: 5 }, () => createTransaction(deps(queue), input)))
    t.equal(results.filter((r) => !r.replayed).length, 1, 'one enqueued, four replays')
    t.equal(new Set(results.map((r) => r.record.id)).size, 1)
    t.equal((await queueCounts(queue)).waiting, before.waiting + 1, 'one job')
  })
})

t.test('when a record was left queued without a job (Redis died before it could be failed), then', async (t) => {
  const orphan = async (key: string, ageMs: number): Promise<string> => {
    const at = new Date(Date.now() - ageMs).toISOString()
    const record = { id: randomUUID(), user_id: 1, amount: 5, currency: 'GBP', status: 'queued' as const, created_at: at, updated_at: at }
    await insertTransaction(redis, record, { userId: 1, key, ttlSeconds: 60 })
    return record.id
  }
  await t.test('once it is older than ORPHAN_AFTER_MS, a retry with its key enqueues it', async (t) => {
    const key = randomUUID()
    const id = await orphan(key, ORPHAN_AFTER_MS + 1000)
    await withQueue(server.url, async (queue) => {
      await queueReady(queue, 5000)
      const result = await createTransaction(deps(queue), { userId: 1, amount: 5, currency: 'GBP', idempotencyKey: key })
      t.equal(result.record.id, id)
      t.equal(result.replayed, false)
      t.match(await readTransaction(redis, id), { status: 'queued', job_id: /^\d+$/ })
    })
  })
  await t.test('while it is younger, a retry waits for the first request, then answers 409 to retry later', async (t) => {
    const key = randomUUID()
    const id = await orphan(key, 0)
    await withQueue(server.url, async (queue) => {
      await queueReady(queue, 5000)
      const started = Date.now()
      await rejectsWith(t, createTransaction(deps(queue), { userId: 1, amount: 5, currency: 'GBP', idempotencyKey: key }), 409)
      const waited = Date.now() - started
      t.ok(waited >= 1900 && waited < 3000, `waited about 2 s (${waited} ms)`)
      t.match(await readTransaction(redis, id), { status: 'queued' })
      t.equal((await readTransaction(redis, id))?.job_id, undefined, 'nothing enqueued')
    })
  })
})

t.test('when a key names a transaction that is gone, then the key is forgotten and a new transaction made', async (t) => {
  const key = randomUUID()
  await server.client.set(`idempotency:1:${key}`, randomUUID())
  await withQueue(server.url, async (queue) => {
    await queueReady(queue, 5000)
    const result = await createTransaction(deps(queue), { userId: 1, amount: 6, currency: 'GBP', idempotencyKey: key })
    t.equal(result.replayed, false)
    t.equal(await idFor(key), result.record.id)
    t.match(await readTransaction(redis, result.record.id), { status: 'queued', job_id: /^\d+$/ })
  })
})
