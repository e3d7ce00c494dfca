// The domain function against a real Redis: a transaction's record, kue job and idempotency key are
// written in one script; the job is the one kue's own save makes, and kue's worker takes it.
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { HttpError, isDependencyUnavailable } from '../../../services/shared/errors.ts'
import { closeQueue, createQueue, type Job, type Queue, queueReady, TRANSACTION_JOB } from '../../../services/shared/queue/index.ts'
import { enqueueTransaction } from '../../helpers/kue-save.ts'
import { closeRedis, connectRedis, createRedis } from '../../../services/shared/redis.ts'
import { readTransaction } from '../../../services/shared/transactions.ts'
import { createAdmission } from '../../../services/transaction-api/admission.ts'
import { createTransaction, type CreateTransactionDeps } from '../../../services/transaction-api/create-transaction.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'
import { holdFull, startRedis } from '../../helpers/redis-server.ts'

const server = await startRedis()
t.teardown(() => server.stop())
const redis = createRedis(server.url, { name: 'test', autoPipelining: true })
await connectRedis(redis)
t.teardown(() => closeRedis(redis))
const log = memoryLogger()

// kue keeps one queue per process: each test closes the one it made.
async function withQueue<T>(use: (queue: Queue) => Promise<T>): Promise<T> {
  const queue = createQueue(server.url, log.logger)
  try {
    await queueReady(queue, 5000)
    return await use(queue)
  } finally {
    await closeQueue(queue, 500)
  }
}
const admission = createAdmission(redis, { maxBacklog: undefined, highWaterPercent: 90 })
const deps = (now?: () => Date): CreateTransactionDeps => ({ redis, logger: log.logger, idempotencyTtlSeconds: 60, admission, ...(now ? { now } : {}) })
async function rejectsWith(t: Test, promise: Promise<unknown>, status: number): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof HttpError && err.status === status, `rejected with ${status}`, { err })
}
const idFor = async (key: string): Promise<string> => (await server.client.get(`idempotency:1:${key}`)) ?? ''

t.test('when a transaction is created, then its record, its job and its key are written together', async (t) => {
  const key = randomUUID()
  const result = await createTransaction(deps(), { userId: 1, amount: 2000, currency: 'GBP', idempotencyKey: key })
  t.equal(result.replayed, false)
  t.equal(await idFor(key), result.record.id, 'the key names it')
  const record = await readTransaction(redis, result.record.id)
  t.match(record, { status: 'queued', amount: 2000, currency: 'GBP', user_id: 1, job_id: result.record.job_id })
  const job = await server.client.hgetall(`q:job:${result.record.job_id}`)
  t.match(JSON.parse(job.data ?? '{}'), { transaction_id: result.record.id, user_id: 1, amount: 2000, currency: 'GBP' }, 'the job carries the event')
  t.equal(job.state, 'inactive')
})

t.test('when the script writes a job, then it is the job kue\'s own save writes, and kue\'s worker takes it', async (t) => {
  await withQueue(async (queue) => {
    const tokensBefore = await server.client.llen(`q:${TRANSACTION_JOB}:jobs`)
    const ours = await createTransaction(deps(), { userId: 7, amount: 1234, currency: 'EUR' })
    const event = { transaction_id: randomUUID(), user_id: 7, amount: 1234, currency: 'EUR', created_at: ours.record.created_at }
    const kuesId = await enqueueTransaction(queue, event)
    const [ourJob, kuesJob] = await Promise.all([server.client.hgetall(`q:job:${ours.record.job_id}`), server.client.hgetall(`q:job:${kuesId}`)])
    const comparable = (job: Record<string, string>) => {
      const { created_at: _c, promote_at: _p, updated_at: _u, data, ...rest } = job
      const { transaction_id: _t, ...eventRest } = JSON.parse(data ?? '{}') as Record<string, unknown>
      return { ...rest, data: eventRest }
    }
    t.same(comparable(ourJob), comparable(kuesJob), 'the same hash fields and values (but for times and the transaction id)')
    for (const [name, value] of Object.entries(ourJob)) if (/_at$/.test(name)) t.match(value, /^\d{13}$/, `${name} in ms, as kue writes it`)
    const zid = (id: string) => `${String(id.length).padStart(2, '0')}|${id}`
    for (const set of ['q:jobs', 'q:jobs:inactive', `q:jobs:${TRANSACTION_JOB}:inactive`]) {
      t.same(
        [await server.client.zscore(set, zid(ours.record.job_id!)), await server.client.zscore(set, zid(kuesId))],
        ['0', '0'],
        `both in ${set}, same score`,
      )
    }
    t.ok(await server.client.sismember('q:job:types', TRANSACTION_JOB), 'the type is known')
    t.equal(await server.client.llen(`q:${TRANSACTION_JOB}:jobs`), tokensBefore + 2, 'a BLPOP token for each')

    // Earlier tests' jobs are waiting too: take everything until both of these came by.
    const wanted = [ours.record.job_id!, kuesId]
    const taken: string[] = []
    await new Promise<void>((resolve) => {
      queue.process(TRANSACTION_JOB, 2, (job: Job, done: () => void) => {
        taken.push(String(job.id))
        done()
        if (wanted.every((id) => taken.includes(id))) resolve()
      })
    })
    t.pass(`kue's worker took both (${taken.length} jobs taken)`)
  })
})

t.test('when Redis refuses the write (full), then the call fails as Redis unavailable and nothing is written', async (t) => {
  const before = (await server.client.keys('*')).sort()
  await holdFull(server.client)
  t.teardown(() => server.client.config('SET', 'maxmemory', '0'))
  const err = await createTransaction(deps(), { userId: 1, amount: 3, currency: 'GBP', idempotencyKey: randomUUID() }).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(isDependencyUnavailable(err), 'Redis unavailable (a 503)', { err })
  t.same((await server.client.keys('*')).sort(), before, 'no record, no job, no key')
})

t.test('when a key is reused with another amount, then 422 and nothing new is written', async (t) => {
  const key = randomUUID()
  const first = await createTransaction(deps(), { userId: 1, amount: 10, currency: 'GBP', idempotencyKey: key })
  await rejectsWith(t, createTransaction(deps(), { userId: 1, amount: 11, currency: 'GBP', idempotencyKey: key }), 422)
  t.equal(await idFor(key), first.record.id)
})

t.test('when a key names a transaction no longer kept (past its retention), then 422 names it and nothing new is written', async (t) => {
  const key = randomUUID()
  const first = await createTransaction(deps(), { userId: 1, amount: 6, currency: 'GBP', idempotencyKey: key })
  await server.client.del(`transaction:${first.record.id}`)
  const jobsBefore = await server.client.get('q:ids')
  const err = await createTransaction(deps(), { userId: 1, amount: 6, currency: 'GBP', idempotencyKey: key }).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof HttpError && err.status === 422, 'rejected with 422', { err })
  t.match((err as Error).message, new RegExp(`transaction ${first.record.id}, which is no longer kept`))
  t.equal(await idFor(key), first.record.id, 'the key still names the first transaction')
  t.equal(await server.client.get('q:ids'), jobsBefore, 'no job was written')
})
