import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { start } from '../../../services/loyalty-worker/index.ts'
import { keys } from '../../../services/shared/keys.ts'
import type { Logger } from '../../../services/shared/logger.ts'
import { closeQueue, createQueue, queueCounts, queueReady, type Queue } from '../../../services/shared/queue/index.ts'
import { enqueueTransaction } from '../../helpers/kue-save.ts'
import { readTransaction } from '../../../services/shared/transactions.ts'
import { signToken } from '../../../services/shared/tokens.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'
import { startRedis } from '../../helpers/redis-server.ts'
import { allWithStatus, jobHash, loyaltyOf, produce, secret, transactionEvent, waitFor, workerConfig, writeQueuedRecord } from './fixtures.ts'

// kue keeps one queue per process: while a worker runs, createQueue returns the worker's own queue,
// so these tests produce jobs on it and let the worker's stop() close it.
async function workerQueue(url: string, logger: Logger): Promise<Queue> {
  const queue = createQueue(url, logger)
  await queueReady(queue, 5000)
  return queue
}

/** A real Redis, the worker on it with the default test config, and its queue; both stopped at teardown. */
async function startWorker(t: Test) {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger, entries } = memoryLogger()
  const worker = await start(workerConfig(redis.urlOf('loyalty')), logger)
  t.teardown(() => worker.stop())
  const queue = await workerQueue(redis.url, logger)
  return { redis, entries, queue }
}

/** The hash of job `jobId` once kue has failed it. */
const failedJob = (client: Redis, jobId: string): Promise<Record<string, string>> =>
  waitFor('the job to fail', async () => {
    const hash = await jobHash(client, jobId)
    return hash.state === 'failed' ? hash : undefined
  })

t.test('when jobs are waiting before the worker starts, then it awards them all and /me shows the result', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger()
  const producer = createQueue(redis.url, logger)
  await queueReady(producer, 5000)
  const events = Array.from({ length: 13 }, () => transactionEvent(1))
  for (const event of events) await produce(redis.client, producer, event)
  await closeQueue(producer, 1000)

  const worker = await start(workerConfig(redis.urlOf('loyalty')), logger)
  t.teardown(() => worker.stop())
  const records = await allWithStatus(redis.client, events.map((e) => e.transaction_id), 'completed')
  t.equal(records.size, 13)

  const token = signToken({ user_id: 1, username: 'alice', can_transact: true }, secret, 30)
  const res = await fetch(`http://127.0.0.1:${worker.port}/me`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 200)
  const me = (await res.json()) as { user_id: number; stamps: number; transactions: number; vouchers: { id: string; issued_at: string; transaction_id: string }[] }
  t.equal(me.user_id, 1)
  t.equal(me.stamps, 3)
  t.equal(me.transactions, 13)
  t.equal(me.vouchers.length, 1)
  t.match(me.vouchers[0], { id: /^[0-9a-f-]{36}$/, issued_at: /^\d{4}-\d\d-\d\dT/, transaction_id: /^[0-9a-f-]{36}$/ })
  const completing = records.get(me.vouchers[0]!.transaction_id)
  t.equal(completing?.loyalty?.voucher_id, me.vouchers[0]!.id, 'the voucher names the transaction that completed the card')

  const queue = await workerQueue(redis.url, logger)
  t.match(await queueCounts(queue), { waiting: 0, active: 0, failed: 0 })
})

t.test('when a job is replayed for a completed transaction, then no extra stamp is awarded', async (t) => {
  const { redis, entries, queue } = await startWorker(t)

  const event = transactionEvent(7)
  await produce(redis.client, queue, event)
  const [first] = await allWithStatus(redis.client, [event.transaction_id], 'completed').then((m) => [...m.values()])
  const replayJob = await enqueueTransaction(queue, event)
  await waitFor('the replayed job to finish', async () => Object.keys(await jobHash(redis.client, replayJob)).length === 0)

  t.same(await loyaltyOf(redis.client, 7), { stamps: 1, transactions: 1, vouchers: 0 })
  const record = await readTransaction(redis.client, event.transaction_id)
  t.same(record?.loyalty, first?.loyalty)
  t.equal(record?.updated_at, first?.updated_at, 'the record is not touched again')
  t.ok(entries().some((e) => e.msg === 'transaction already awarded, duplicate delivery ignored' && e.job_id === replayJob))
})

t.test('when a job fails once, then it is retried with its transaction id and attempt logged, and awarded once', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger, entries } = memoryLogger()
  let calls = 0
  const worker = await start(workerConfig(redis.urlOf('loyalty')), logger, {
    beforeAward: async () => {
      if (++calls === 1) throw new Error('flaky dependency')
    },
  })
  t.teardown(() => worker.stop())
  const queue = await workerQueue(redis.url, logger)
  const event = transactionEvent(8)
  const jobId = await produce(redis.client, queue, event)
  await allWithStatus(redis.client, [event.transaction_id], 'completed')
  t.equal(calls, 2)
  t.same(await loyaltyOf(redis.client, 8), { stamps: 1, transactions: 1, vouchers: 0 })
  const warning = entries().find((e) => e.msg === 'transaction job failed, will retry')
  t.match(warning, { level: 'warn', job_id: jobId, transaction_id: event.transaction_id, attempt: 1, max_attempts: 8, error: 'flaky dependency' })
})

t.test('when job data is invalid, then the job fails at once with a clear error and its record is marked failed', async (t) => {
  const { redis, entries, queue } = await startWorker(t)

  const event = transactionEvent(9, { currency: 'gbp', amount: -5 })
  const jobId = await produce(redis.client, queue, event)
  const job = await failedJob(redis.client, jobId)
  t.match(job.error, /invalid job data: .*\/amount must be >= 1/)
  const record = await readTransaction(redis.client, event.transaction_id)
  t.equal(record?.status, 'failed')
  t.match(record?.error, /^invalid job data/)
  t.same(await loyaltyOf(redis.client, 9), { stamps: 0, transactions: 0, vouchers: 0 })
  t.match(entries().find((e) => e.msg === 'transaction job failed for good'), { level: 'error', job_id: jobId, transaction_id: event.transaction_id, attempt: 1 })
  t.match(await queueCounts(queue), { failed: 1, waiting: 0, active: 0, delayed: 0 })
})

t.test('when job data has no usable transaction id, then the job fails and nothing is written', async (t) => {
  const { redis, queue } = await startWorker(t)
  const before = await redis.client.dbsize()
  const jobId = await enqueueTransaction(queue, { user_id: 1 } as never)
  const job = await failedJob(redis.client, jobId)
  t.match(job.error, /invalid job data: data must have required property 'transaction_id'/)
  t.equal((await redis.client.keys('transaction:*')).length, 0)
  t.ok((await redis.client.dbsize()) >= before)
})

t.test('when the transaction record is missing, then the job fails with "transaction record not found"', async (t) => {
  const { redis, queue } = await startWorker(t)
  const event = transactionEvent(10)
  const jobId = await enqueueTransaction(queue, event)
  const job = await failedJob(redis.client, jobId)
  t.match(job.error, /transaction record not found/)
  t.equal(await redis.client.exists(keys.transaction(event.transaction_id)), 0, 'no record is invented')
  t.same(await loyaltyOf(redis.client, 10), { stamps: 0, transactions: 0, vouchers: 0 })
})

t.test("when the job's user is not the record's user, then the job fails and nobody is awarded", async (t) => {
  const { redis, queue } = await startWorker(t)
  const event = transactionEvent(11)
  await writeQueuedRecord(redis.client, event)
  const jobId = await enqueueTransaction(queue, { ...event, user_id: 12 })
  const job = await failedJob(redis.client, jobId)
  t.match(job.error, /does not match/)
  t.equal((await readTransaction(redis.client, event.transaction_id))?.status, 'failed')
  t.same(await loyaltyOf(redis.client, 11), { stamps: 0, transactions: 0, vouchers: 0 })
  t.same(await loyaltyOf(redis.client, 12), { stamps: 0, transactions: 0, vouchers: 0 })
})

t.test('when many transactions with duplicates are enqueued while the worker runs, then each is awarded once', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger('info')
  const worker = await start(workerConfig(redis.urlOf('loyalty'), { LOYALTY_STAMPS_PER_VOUCHER: 3, LOYALTY_CONCURRENCY: 10 }), logger)
  t.teardown(() => worker.stop())
  const queue = await workerQueue(redis.url, logger)
  const ids: string[] = []
  for (let i = 0; i < 30; i++) {
    const event = transactionEvent(20 + (i % 3))
    ids.push(event.transaction_id)
    await produce(redis.client, queue, event)
    // Every third transaction is delivered again.
    if (i % 3 === 0) await enqueueTransaction(queue, event)
  }
  await allWithStatus(redis.client, ids, 'completed')
  await waitFor('the queue to drain', async () => {
    const counts = await queueCounts(queue)
    return counts.waiting + counts.active + counts.delayed === 0
  })
  for (const userId of [20, 21, 22]) {
    const { stamps, transactions, vouchers } = await loyaltyOf(redis.client, userId)
    t.equal(transactions, 10, `user ${userId} transactions`)
    t.equal(stamps + vouchers * 3, 10, `user ${userId} stamps + vouchers * 3`)
  }
})

t.test("when the worker runs jobs, then it publishes none of their start and completion events on kue's channel", async (t) => {
  const { redis, queue } = await startWorker(t)
  // Every process with a kue queue subscribes to this channel and parses every message on it.
  const subscriber = redis.client.duplicate({ enableOfflineQueue: true })
  t.teardown(() => subscriber.quit())
  const messages: string[] = []
  subscriber.on('message', (_channel: string, message: string) => messages.push(message))
  await subscriber.subscribe(`${keys.queuePrefix}:events`)

  const events = Array.from({ length: 3 }, () => transactionEvent(30))
  for (const event of events) await produce(redis.client, queue, event)
  await allWithStatus(redis.client, events.map((e) => e.transaction_id), 'completed')
  // A message published before the records completed would have arrived by the time a PING returns.
  await subscriber.ping()
  t.same(messages, [])
})

t.test('when a job outlives its TTL, then its worker fails that attempt and takes the next job', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger()
  let releaseFirst = (): void => {}
  const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve))
  t.teardown(() => releaseFirst())
  let calls = 0
  // One job at a time, and the first run of the first job hangs: only kue's TTL handshake (the process
  // that sees the TTL pass publishes it, the worker holding the job fails it and answers) frees the slot.
  const worker = await start(workerConfig(redis.urlOf('loyalty'), { LOYALTY_CONCURRENCY: 1 }), logger, {
    beforeAward: async () => {
      if (++calls === 1) await firstHeld
    },
  })
  t.teardown(() => worker.stop())
  const queue = await workerQueue(redis.url, logger)
  const stuck = transactionEvent(31)
  await produce(redis.client, queue, stuck, { ttlMs: 300 })
  await waitFor('the first job to start', async () => calls === 1)
  const next = transactionEvent(32)
  await produce(redis.client, queue, next)

  await allWithStatus(redis.client, [next.transaction_id, stuck.transaction_id], 'completed', 10_000)
  t.equal(calls, 3, 'the stuck run, the next job, the stuck job retried')
  releaseFirst()
  // The stuck run, released, finds its transaction awarded and awards nothing more.
  await waitFor('the released run to finish', async () => (await queueCounts(queue)).active === 0)
  t.same(await loyaltyOf(redis.client, 31), { stamps: 1, transactions: 1, vouchers: 0 })
})

t.test('/me', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger()
  const worker = await start(workerConfig(redis.urlOf('loyalty')), logger)
  t.teardown(() => worker.stop())
  const url = `http://127.0.0.1:${worker.port}/me`

  t.test('when a user has no transactions yet, then zeros and no vouchers', async (t) => {
    const token = signToken({ user_id: 42, username: 'new', can_transact: true }, secret, 30)
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } })
    t.equal(res.status, 200)
    t.same(await res.json(), { user_id: 42, stamps: 0, vouchers: [], vouchers_total: 0, next_cursor: null, transactions: 0 })
  })

  t.test('when a user has more vouchers than a page, then /me answers one page, the total and a cursor that walks them all once', async (t) => {
    const userId = 43
    const vouchers = Array.from({ length: 1045 }, (_, i) => ({ id: randomUUID(), issued_at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), transaction_id: randomUUID() }))
    await redis.client.rpush(keys.vouchers(userId), ...vouchers.map((voucher) => JSON.stringify(voucher)))
    await redis.client.hset(keys.loyalty(userId), 'stamps', 3, 'transactions', 10_453)
    const headers = { authorization: `Bearer ${signToken({ user_id: userId, username: 'many', can_transact: true }, secret, 30)}` }

    const first = await fetch(url, { headers })
    t.equal(first.status, 200)
    const text = await first.text()
    const page = JSON.parse(text) as { vouchers: unknown[]; vouchers_total: number; next_cursor: string | null; stamps: number; transactions: number }
    t.equal(page.vouchers.length, 20, 'the default page is 20 vouchers')
    t.same(page.vouchers, vouchers.slice(0, 20), 'oldest first')
    t.match(page, { vouchers_total: 1045, next_cursor: '20', stamps: 3, transactions: 10_453 })
    t.ok(text.length < 4000, `the answer stays small: ${text.length} bytes for 1,045 vouchers`)

    const seen: unknown[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res: Response = await fetch(`${url}?limit=100${cursor === null ? '' : `&cursor=${cursor}`}`, { headers })
      t.equal(res.status, 200)
      const body = (await res.json()) as { vouchers: unknown[]; vouchers_total: number; next_cursor: string | null }
      t.ok(body.vouchers.length <= 100)
      seen.push(...body.vouchers)
      cursor = body.next_cursor
      pages++
    } while (cursor !== null && pages < 20)
    t.equal(pages, 11, '11 pages of at most 100')
    t.same(seen, vouchers, 'every voucher once, in order')

    const past = await fetch(`${url}?cursor=5000`, { headers })
    t.match(await past.json(), { vouchers: [], vouchers_total: 1045, next_cursor: null }, 'a cursor past the end: an empty last page')
  })

  const badQueries: [string, string, RegExp][] = [
    ['limit=0', 'the limit is 0', /^limit must be an integer from 1 to 100$/],
    ['limit=101', 'the limit is over 100', /^limit/],
    ['limit=1000000', 'the limit is huge', /^limit/],
    ['limit=abc', 'the limit is not a number', /^limit/],
    ['limit=1.5', 'the limit is not an integer', /^limit/],
    ['limit=-1', 'the limit is negative', /^limit/],
    ['limit=', 'the limit is empty', /^limit/],
    ['limit=5&limit=6', 'the limit is repeated', /^limit/],
    ['cursor=abc', 'the cursor is not one /me gave', /^cursor must be the next_cursor of a previous page$/],
    ['cursor=-1', 'the cursor is negative', /^cursor/],
    ['cursor=99999999999', 'the cursor is too long', /^cursor/],
    ['cursor=1&cursor=2', 'the cursor is repeated', /^cursor/],
  ]
  for (const [query, when, message] of badQueries) {
    t.test(`when ${when}, then 422 with a JSON error naming it`, async (t) => {
      const headers = { authorization: `Bearer ${signToken({ user_id: 43, username: 'many', can_transact: true }, secret, 30)}` }
      const res = await fetch(`${url}?${query}`, { headers })
      t.equal(res.status, 422)
      t.match(await res.json(), { error: message })
    })
  }

  t.test('when the query is bad and there is no token, then 401: the token is checked first', async (t) => {
    const res = await fetch(`${url}?limit=0`)
    t.equal(res.status, 401)
  })

  const cases: [string, Record<string, string>][] = [
    ['there is no Authorization header', {}],
    ['the header is not a bearer token', { authorization: 'Basic YWxpY2U6c2VjcmV0' }],
    ['the token is not a JWT', { authorization: 'Bearer not-a-jwt' }],
    ['the token is signed with another secret', { authorization: `Bearer ${signToken({ user_id: 1, username: 'a', can_transact: true }, 'another-secret-that-is-long-enough-to-use', 30)}` }],
    ['the token has expired', { authorization: `Bearer ${signToken({ user_id: 1, username: 'a', can_transact: true }, secret, -10)}` }],
  ]
  for (const [when, headers] of cases) {
    t.test(`when ${when}, then 401 with a JSON error`, async (t) => {
      const res = await fetch(url, { headers })
      t.equal(res.status, 401)
      t.equal(res.headers.get('www-authenticate'), 'Bearer')
      t.match(await res.json(), { error: String })
    })
  }
})

t.test('/health', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger('info')
  const worker = await start(workerConfig(redis.urlOf('loyalty')), logger)
  t.teardown(() => worker.stop())
  const url = `http://127.0.0.1:${worker.port}/health`
  const queue = await workerQueue(redis.url, logger)

  const res = await fetch(url)
  t.equal(res.status, 200)
  t.same(await res.json(), { healthy: true, queue: { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 } })

  await redis.kill()
  const started = Date.now()
  const down = await fetch(url)
  t.equal(down.status, 503, 'Redis down: 503')
  t.match(await down.json(), { healthy: false })
  t.ok(Date.now() - started < 2000, 'answered quickly')

  await redis.start()
  await waitFor('health to recover', async () => (await fetch(url)).status === 200)
  const event = transactionEvent(5)
  await waitFor('the queue to accept jobs again', async () => produce(redis.client, queue, event).then(() => true, () => false))
  await allWithStatus(redis.client, [event.transaction_id], 'completed')
  t.pass('the worker takes jobs again after Redis came back')
})

t.test('when the award path cannot reach Redis, then /me answers 503, not 500', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger('info')
  const worker = await start(workerConfig(redis.urlOf('loyalty')), logger)
  t.teardown(() => worker.stop())
  await redis.kill()
  const token = signToken({ user_id: 1, username: 'a', can_transact: true }, secret, 30)
  const res = await fetch(`http://127.0.0.1:${worker.port}/me`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 503)
  t.match(await res.json(), { error: String })
  await redis.start()
})
