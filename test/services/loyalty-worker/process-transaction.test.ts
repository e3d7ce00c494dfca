import t from 'tap'
import { defineLoyaltyCommands, type LoyaltyRedis } from '../../../services/loyalty-worker/award.ts'
import { PermanentJobError, processTransaction, transactionJobHandler } from '../../../services/loyalty-worker/process-transaction.ts'
import type { Job } from '../../../services/shared/queue/index.ts'
import { closeRedis, connectRedis, createRedis } from '../../../services/shared/redis.ts'
import { readTransaction } from '../../../services/shared/transactions.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'
import { startRedis, type RedisServer } from '../../helpers/redis-server.ts'
import { loyaltyOf, RETENTION_MS, transactionEvent, writeQueuedRecord } from './fixtures.ts'

let server: RedisServer
let redis: LoyaltyRedis

t.before(async () => {
  server = await startRedis()
  redis = defineLoyaltyCommands(createRedis(server.url, { name: 'handler-test' }))
  await connectRedis(redis)
})
t.teardown(async () => {
  await closeRedis(redis)
  await server.stop()
})

/** A job as kue hands it to a worker: attempts made so far (NaN before the first) and the maximum. */
function fakeJob(data: unknown, attemptsSoFar: number, maxAttempts: number): Job {
  const job = {
    id: 99,
    data,
    _attempts: attemptsSoFar === 0 ? Number.NaN : attemptsSoFar,
    _max_attempts: maxAttempts,
    attempts(n: number) {
      job._max_attempts = n
      return job
    },
  }
  return job as unknown as Job
}

const maxAttemptsOf = (job: Job): number => (job as unknown as { _max_attempts: number })._max_attempts

function runHandler(handler: ReturnType<typeof transactionJobHandler>, job: Job): Promise<{ err?: Error | null; result?: unknown }> {
  return new Promise((resolve) => handler(job, (err, result) => resolve({ err, result })))
}

t.test('when a job succeeds, then the handler reports the award as its result', async (t) => {
  const { logger, entries } = memoryLogger()
  const event = transactionEvent(1)
  await writeQueuedRecord(server.client, event)
  const { err, result } = await runHandler(transactionJobHandler({ redis, stampsPerVoucher: 10, retentionMs: RETENTION_MS, logger }), fakeJob(event, 0, 8))
  t.equal(err, null)
  t.same(result, { stamps_awarded: 1, stamps_after: 1 })
  t.match(entries().find((e) => e.msg === 'transaction awarded'), { job_id: '99', transaction_id: event.transaction_id, user_id: 1, attempt: 1, stamps_after: 1 })
})

t.test('when a job fails on an attempt that is not its last, then the failure is logged and the record is left for the retry', async (t) => {
  const { logger, entries } = memoryLogger()
  const event = transactionEvent(2)
  await writeQueuedRecord(server.client, event)
  const handler = transactionJobHandler({ redis, stampsPerVoucher: 10, retentionMs: RETENTION_MS, logger, beforeAward: () => Promise.reject(new Error('temporary')) })
  const job = fakeJob(event, 2, 8)
  const { err } = await runHandler(handler, job)
  t.match(err, { message: 'temporary' })
  t.equal(maxAttemptsOf(job), 8, 'kue keeps retrying')
  t.match(entries().find((e) => e.msg === 'transaction job failed, will retry'), { level: 'warn', job_id: '99', transaction_id: event.transaction_id, attempt: 3, max_attempts: 8 })
  t.equal((await readTransaction(server.client, event.transaction_id))?.status, 'processing', 'shown as picked up')
})

t.test('when the last attempt fails, then the record is marked failed with the error', async (t) => {
  const { logger, entries } = memoryLogger()
  const event = transactionEvent(3)
  await writeQueuedRecord(server.client, event)
  const handler = transactionJobHandler({ redis, stampsPerVoucher: 10, retentionMs: RETENTION_MS, logger, beforeAward: () => Promise.reject(new Error('still down')) })
  const { err } = await runHandler(handler, fakeJob(event, 7, 8))
  t.match(err, { message: 'still down' })
  t.match(entries().find((e) => e.msg === 'transaction job failed for good'), { level: 'error', attempt: 8, max_attempts: 8, error: 'still down' })
  const record = await readTransaction(server.client, event.transaction_id)
  t.equal(record?.status, 'failed')
  t.equal(record?.error, 'still down')
  t.same(await loyaltyOf(server.client, 3), { stamps: 0, transactions: 0, vouchers: 0 })
})

t.test('when a failure is permanent, then the job is made to fail on this attempt', async (t) => {
  const { logger } = memoryLogger()
  const event = transactionEvent(4)
  const job = fakeJob(event, 1, 8) // no record: "transaction record not found"
  const { err } = await runHandler(transactionJobHandler({ redis, stampsPerVoucher: 10, retentionMs: RETENTION_MS, logger }), job)
  t.type(err, PermanentJobError)
  t.match(err, { message: 'transaction record not found' })
  t.equal(maxAttemptsOf(job), 2, 'no attempts left after this one')
})

t.test('when marking the record failed is impossible, then the job still fails and the problem is logged', async (t) => {
  const { logger, entries } = memoryLogger()
  const broken = defineLoyaltyCommands(createRedis('redis://127.0.0.1:1/0', { name: 'nowhere' }))
  const event = transactionEvent(5)
  const { err } = await runHandler(transactionJobHandler({ redis: broken, stampsPerVoucher: 10, retentionMs: RETENTION_MS, logger }), fakeJob(event, 7, 8))
  t.ok(err)
  t.ok(entries().some((e) => e.msg === 'could not mark the transaction failed'))
  broken.disconnect()
})

t.test('when the data is not a transaction event, then processTransaction refuses it before touching Redis', async (t) => {
  for (const bad of [null, 'text', [], {}, { ...transactionEvent(1), extra: true }, { ...transactionEvent(1), user_id: 0 }, { ...transactionEvent(1), transaction_id: 'x' }]) {
    await t.rejects(processTransaction(bad, { redis, stampsPerVoucher: 10, retentionMs: RETENTION_MS, logger: memoryLogger().logger }), { name: 'PermanentJobError', message: /^invalid job data/ })
  }
})
