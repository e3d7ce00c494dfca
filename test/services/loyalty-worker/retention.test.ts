// Retention of finished transaction records against a real Redis: awarded and failed records expire after
// TRANSACTION_RETENTION and join the finished list; the sweep drops the ids of expired records and, while
// Redis's memory is above the trim mark, deletes the oldest finished records, and never anything else.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { awardLoyalty, defineLoyaltyCommands, markFailed, type LoyaltyRedis } from '../../../services/loyalty-worker/award.ts'
import { sweepFinishedOnce } from '../../../services/loyalty-worker/retention.ts'
import { keys } from '../../../services/shared/keys.ts'
import { closeRedis, connectRedis, createRedis } from '../../../services/shared/redis.ts'
import { startRedis } from '../../helpers/redis-server.ts'
import { loyaltyOf, RETENTION_MS, transactionEvent, writeQueuedRecord } from './fixtures.ts'

const server = await startRedis()
t.teardown(() => server.stop())
const redis: LoyaltyRedis = defineLoyaltyCommands(createRedis(server.url, { name: 'retention-test' }))
await connectRedis(redis)
t.teardown(() => closeRedis(redis))
const client = server.client

let nextUser = 1
async function finished(n: number, retentionMs = RETENTION_MS): Promise<{ userId: number; ids: string[] }> {
  const userId = nextUser++
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const event = transactionEvent(userId)
    await writeQueuedRecord(client, event)
    await awardLoyalty(redis, { transactionId: event.transaction_id, userId, stampsPerVoucher: 10, voucherId: randomUUID(), now: new Date(), retentionMs })
    ids.push(event.transaction_id)
  }
  return { userId, ids }
}
const usedMemory = async (): Promise<number> => Number(/^used_memory:(\d+)/m.exec(await client.info('memory'))?.[1])
const exists = async (ids: string[]): Promise<boolean[]> => Promise.all(ids.map(async (id) => (await client.exists(keys.transaction(id))) === 1))

t.beforeEach(async () => {
  await client.config('SET', 'maxmemory', '0')
  await client.flushdb()
})

t.test('when a transaction is awarded, then its record expires after the retention and its id joins the finished list', async (t) => {
  const { userId, ids } = await finished(1)
  const ttl = await client.pttl(keys.transaction(ids[0]!))
  t.ok(ttl > RETENTION_MS - 60_000 && ttl <= RETENTION_MS, `expires in ${ttl} ms`)
  t.same(await client.lrange(keys.finishedTransactions, 0, -1), ids)
  t.equal(await client.pttl(keys.loyalty(userId)), -1, "the user's loyalty never expires")
})

t.test('when a transaction fails for good, then its record expires after the retention too, and is listed once', async (t) => {
  const event = transactionEvent(nextUser++)
  await writeQueuedRecord(client, event)
  t.equal(await markFailed(redis, event.transaction_id, 'broken', new Date(), 60_000), true)
  t.equal(await markFailed(redis, event.transaction_id, 'broken again', new Date(), 60_000), true)
  const ttl = await client.pttl(keys.transaction(event.transaction_id))
  t.ok(ttl > 0 && ttl <= 60_000, `expires in ${ttl} ms`)
  t.same(await client.lrange(keys.finishedTransactions, 0, -1), [event.transaction_id])
})

t.test('when a queued transaction waits, then its record never expires', async (t) => {
  const event = transactionEvent(nextUser++)
  await writeQueuedRecord(client, event)
  t.equal(await client.pttl(keys.transaction(event.transaction_id)), -1)
})

t.test('when finished records have expired, then the sweep drops their ids and stops at the first one still kept', async (t) => {
  const old = await finished(5, 50)
  const kept = await finished(3)
  await sleep(120)
  t.same(await exists(old.ids), [false, false, false, false, false], 'the short-retention records expired')
  t.same(await sweepFinishedOnce(redis, 80), { deleted: 0, dropped: 5 })
  t.same(await client.lrange(keys.finishedTransactions, 0, -1), kept.ids, 'the kept ones stay listed')
  t.same(await exists(kept.ids), [true, true, true])
  t.same(await loyaltyOf(client, old.userId), { stamps: 5, transactions: 5, vouchers: 0 }, 'the stamps stay')
})

t.test('when memory is above the trim mark, then the sweep deletes the oldest finished records until it is below, and nothing else', async (t) => {
  const queued = transactionEvent(nextUser++)
  await writeQueuedRecord(client, queued)
  const { userId, ids } = await finished(3000)
  const used = await usedMemory()
  // 85 % used, the mark at 80 %: a few hundred records must go.
  await client.config('SET', 'maxmemory', String(Math.floor(used / 0.85)))
  const result = await sweepFinishedOnce(redis, 80)
  const max = Number(await client.config('GET', 'maxmemory').then((r) => (r as string[])[1]))
  const after = await usedMemory()
  t.ok(result.deleted > 0 && result.deleted < 3000, `deleted ${result.deleted} of 3000`)
  // The sweep stopped at its own reading below the mark; this one may differ by a client's reply buffer.
  t.ok(after < max * 0.8 + 16 * 1024, `below the mark now (${after} < ${Math.floor(max * 0.8)}, give or take 16 kB)`)
  const present = await exists(ids)
  t.same(present.slice(0, result.deleted), Array(result.deleted).fill(false), 'the oldest went')
  t.same(present.slice(result.deleted), Array(3000 - result.deleted).fill(true), 'the newer stay')
  t.equal(await client.llen(keys.finishedTransactions), 3000 - result.deleted)
  t.equal(await client.exists(keys.transaction(queued.transaction_id)), 1, 'a queued record is never trimmed')
  t.same(await loyaltyOf(client, userId), { stamps: 0, transactions: 3000, vouchers: 300 }, "the user's account is whole")
})

t.test('when Redis is full, then the sweep still frees memory', async (t) => {
  const { ids } = await finished(1000)
  await client.config('SET', 'maxmemory', String(Math.floor((await usedMemory()) / 2)))
  await t.rejects(client.set('probe', '1'), /^OOM /, 'precondition: writes are refused')
  const result = await sweepFinishedOnce(redis, 80)
  t.equal(result.deleted, ids.length, 'every finished record went, as memory stayed above the mark')
  t.equal(await client.llen(keys.finishedTransactions), 0)
})

t.test('when a listed record was queued again since, then the sweep under pressure drops its id but keeps the record', async (t) => {
  const event = transactionEvent(nextUser++)
  await writeQueuedRecord(client, event)
  await client.rpush(keys.finishedTransactions, event.transaction_id)
  await client.config('SET', 'maxmemory', String(Math.floor((await usedMemory()) / 0.95)))
  t.same(await sweepFinishedOnce(redis, 80), { deleted: 0, dropped: 1 })
  t.equal(await client.exists(keys.transaction(event.transaction_id)), 1)
})

t.test('when memory is short, then the sweep stops at a finished record whose job may still run again, and goes on once that job is done', async (t) => {
  const { ids } = await finished(3)
  // ids[0]: its job failed for good in kue (it cannot run again); ids[1]: its job still active (kue could
  // not record "complete" while Redis was full, so the job's TTL will retry it); ids[2]: removed on
  // completion, as usual.
  await client.hset(keys.transaction(ids[0]!), 'job_id', '901')
  await client.hset('q:job:901', 'state', 'failed')
  await client.hset(keys.transaction(ids[1]!), 'job_id', '902')
  await client.hset('q:job:902', 'state', 'active')
  await client.hset(keys.transaction(ids[2]!), 'job_id', '903')
  await client.config('SET', 'maxmemory', String(Math.floor((await usedMemory()) / 2)))
  t.equal((await sweepFinishedOnce(redis, 80)).deleted, 1, 'the first goes')
  t.same(await exists(ids), [false, true, true], 'the one whose job is active is kept, and what comes after it waits')
  await client.del('q:job:902')
  t.equal((await sweepFinishedOnce(redis, 80)).deleted, 2, 'its job done, both go')
  t.same(await exists(ids), [false, false, false])
})
