import { randomUUID } from 'node:crypto'
import t from 'tap'
import { awardLoyalty, defineLoyaltyCommands, markFailed, markProcessing, readLoyalty, type LoyaltyRedis } from '../../../services/loyalty-worker/award.ts'
import { loyaltyAfter } from './loyalty-rule.ts'
import { keys } from '../../../services/shared/keys.ts'
import { createRedis, closeRedis, connectRedis } from '../../../services/shared/redis.ts'
import { readTransaction } from '../../../services/shared/transactions.ts'
import { startRedis, type RedisServer } from '../../helpers/redis-server.ts'
import { loyaltyOf, RETENTION_MS, transactionEvent, writeQueuedRecord } from './fixtures.ts'

let server: RedisServer
let redis: LoyaltyRedis
let nextUser = 1

t.before(async () => {
  server = await startRedis()
  redis = defineLoyaltyCommands(createRedis(server.url, { name: 'award-test' }))
  await connectRedis(redis)
})
t.teardown(async () => {
  await closeRedis(redis)
  await server.stop()
})

/** A fresh user with `n` queued transaction records. */
async function userWithTransactions(n: number): Promise<{ userId: number; ids: string[] }> {
  const userId = nextUser++
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const event = transactionEvent(userId)
    await writeQueuedRecord(server.client, event)
    ids.push(event.transaction_id)
  }
  return { userId, ids }
}

const award = (transactionId: string, userId: number, stampsPerVoucher = 10, voucherId: string = randomUUID()) =>
  awardLoyalty(redis, { transactionId, userId, stampsPerVoucher, voucherId, now: new Date(), retentionMs: RETENTION_MS })

t.test('when a transaction is awarded, then the user gets a stamp and the record is completed with its award', async (t) => {
  const { userId, ids } = await userWithTransactions(1)
  const result = await award(ids[0]!, userId)
  t.same(result, { outcome: 'awarded', loyalty: { stamps_awarded: 1, stamps_after: 1 } })
  t.same(await loyaltyOf(server.client, userId), { stamps: 1, transactions: 1, vouchers: 0 })
  const record = await readTransaction(server.client, ids[0]!)
  t.equal(record?.status, 'completed')
  t.same(record?.loyalty, { stamps_awarded: 1, stamps_after: 1 })
  t.ok(Date.parse(record!.updated_at) >= Date.parse(record!.created_at))
})

t.test('when the same transaction is awarded twice, then it earns one stamp and the second call returns the first award', async (t) => {
  const { userId, ids } = await userWithTransactions(1)
  const first = await award(ids[0]!, userId)
  const second = await award(ids[0]!, userId)
  t.same(second, { outcome: 'already_awarded', loyalty: 'loyalty' in first ? first.loyalty : undefined })
  t.same(await loyaltyOf(server.client, userId), { stamps: 1, transactions: 1, vouchers: 0 })
})

t.test('when the same transaction is awarded by many concurrent calls, then it earns one stamp', async (t) => {
  const { userId, ids } = await userWithTransactions(1)
  // Threshold 1: a double award would also show up as a second voucher.
  const results = await Promise.all(Array.from({ length: 20 }, () => award(ids[0]!, userId, 1)))
  t.equal(results.filter((r) => 'outcome' in r && r.outcome === 'awarded').length, 1)
  t.equal(results.filter((r) => 'outcome' in r && r.outcome === 'already_awarded').length, 19)
  t.same(await loyaltyOf(server.client, userId), { stamps: 0, transactions: 1, vouchers: 1 })
})

t.test('when the tenth stamp is earned, then it becomes one voucher and the stamps go back to 0', async (t) => {
  const { userId, ids } = await userWithTransactions(10)
  const voucherId = randomUUID()
  for (const id of ids.slice(0, 9)) await award(id, userId)
  const tenth = await award(ids[9]!, userId, 10, voucherId)
  t.same(tenth, { outcome: 'awarded', loyalty: { stamps_awarded: 1, stamps_after: 0, voucher_id: voucherId } })
  t.same(await loyaltyOf(server.client, userId), { stamps: 0, transactions: 10, vouchers: 1 })
  const account = await readLoyalty(redis, userId)
  t.equal(account.vouchers.length, 1)
  t.same(Object.keys(account.vouchers[0]!), ['id', 'issued_at', 'transaction_id'])
  t.equal(account.vouchers[0]!.id, voucherId)
  t.equal(account.vouchers[0]!.transaction_id, ids[9])
  t.ok(!Number.isNaN(Date.parse(account.vouchers[0]!.issued_at)))
  t.same((await readTransaction(server.client, ids[9]!))?.loyalty, { stamps_awarded: 1, stamps_after: 0, voucher_id: voucherId })
})

t.test('when 23 transactions are awarded with a threshold of 10, then the user has 2 vouchers and 3 stamps', async (t) => {
  const { userId, ids } = await userWithTransactions(23)
  await Promise.all(ids.map((id) => award(id, userId)))
  t.same(await readLoyalty(redis, userId).then(({ stamps, transactions, vouchers }) => ({ stamps, transactions, vouchers: vouchers.length })), {
    stamps: 3,
    transactions: 23,
    vouchers: 2,
  })
})

t.test('when the Lua award runs, then it agrees with the pure rule for thresholds 1, 3 and 10', async (t) => {
  for (const threshold of [1, 3, 10]) {
    const { userId, ids } = await userWithTransactions(25)
    for (const id of ids) await award(id, userId, threshold)
    const expected = loyaltyAfter(25, threshold)
    const actual = await loyaltyOf(server.client, userId)
    t.same({ stamps: actual.stamps, vouchers: actual.vouchers }, expected, `threshold ${threshold}`)
  }
})

t.test('when the transaction record does not exist, then nothing is awarded or created', async (t) => {
  const userId = nextUser++
  const id = randomUUID()
  t.same(await award(id, userId), { error: 'not_found' })
  t.same(await loyaltyOf(server.client, userId), { stamps: 0, transactions: 0, vouchers: 0 })
  t.equal(await server.client.exists(keys.transaction(id)), 0)
})

t.test("when the job's user is not the record's user, then nothing is awarded", async (t) => {
  const { userId, ids } = await userWithTransactions(1)
  const other = nextUser++
  t.same(await award(ids[0]!, other), { error: 'user_mismatch' })
  t.same(await loyaltyOf(server.client, userId), { stamps: 0, transactions: 0, vouchers: 0 })
  t.same(await loyaltyOf(server.client, other), { stamps: 0, transactions: 0, vouchers: 0 })
  t.equal((await readTransaction(server.client, ids[0]!))?.status, 'queued')
})

t.test('when the record had failed before, then a later delivery still awards it and clears the error', async (t) => {
  const { userId, ids } = await userWithTransactions(1)
  t.equal(await markFailed(redis, ids[0]!, 'redis was down', new Date(), RETENTION_MS), true)
  t.equal((await readTransaction(server.client, ids[0]!))?.status, 'failed')
  await award(ids[0]!, userId)
  const record = await readTransaction(server.client, ids[0]!)
  t.equal(record?.status, 'completed')
  t.equal(record?.error, undefined)
})

t.test('when the threshold argument is not a positive number, then the script fails before writing anything', async (t) => {
  const { userId, ids } = await userWithTransactions(1)
  await t.rejects(award(ids[0]!, userId, 0), /stamps per voucher must be a positive integer/)
  t.same(await loyaltyOf(server.client, userId), { stamps: 0, transactions: 0, vouchers: 0 })
  t.equal((await readTransaction(server.client, ids[0]!))?.status, 'queued')
})

t.test('when a record is marked processing, then only a queued record moves', async (t) => {
  const { userId, ids } = await userWithTransactions(1)
  t.equal(await markProcessing(redis, ids[0]!, new Date()), true)
  t.equal((await readTransaction(server.client, ids[0]!))?.status, 'processing')
  t.equal(await markProcessing(redis, ids[0]!, new Date()), false, 'already processing')
  await award(ids[0]!, userId)
  t.equal(await markProcessing(redis, ids[0]!, new Date()), false, 'completed stays completed')
  t.equal((await readTransaction(server.client, ids[0]!))?.status, 'completed')
  const missing = randomUUID()
  t.equal(await markProcessing(redis, missing, new Date()), false)
  t.equal(await server.client.exists(keys.transaction(missing)), 0, 'no record is created')
})

t.test('when a record is marked failed, then a completed or missing record is left alone', async (t) => {
  const { userId, ids } = await userWithTransactions(1)
  await award(ids[0]!, userId)
  t.equal(await markFailed(redis, ids[0]!, 'late failure', new Date(), RETENTION_MS), false)
  t.equal((await readTransaction(server.client, ids[0]!))?.status, 'completed')
  const missing = randomUUID()
  t.equal(await markFailed(redis, missing, 'no record', new Date(), RETENTION_MS), false)
  t.equal(await server.client.exists(keys.transaction(missing)), 0)
})

t.test('when a user has nothing yet, then their account reads as zeros and no vouchers', async (t) => {
  const userId = nextUser++
  t.same(await readLoyalty(redis, userId), { user_id: userId, stamps: 0, vouchers: [], vouchers_total: 0, next_cursor: null, transactions: 0 })
})
