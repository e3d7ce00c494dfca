import { randomUUID } from 'node:crypto'
import t from 'tap'
import { queueCounts } from '../../../services/shared/queue/index.ts'
import { reusedKeyMessage } from '../../../services/transaction-api/idempotency.ts'
import { messages } from '../../../services/transaction-api/request-validation.ts'
import { alice, bob, json, postTransaction, startApi, tokenFor } from './harness.ts'

const api = await startApi(t, { IDEMPOTENCY_TTL_SECONDS: 3600 })
const withKey = (key: string, user = alice): Record<string, string> => ({ 'idempotency-key': key, authorization: `Bearer ${tokenFor(user)}` })
const waiting = async (): Promise<number> => (await queueCounts(api.queue)).waiting

t.test('when a request is retried with the same key, then the same transaction is answered and nothing new is queued', async (t) => {
  const key = randomUUID()
  const first = await postTransaction(api, { amount: 2000, currency: 'GBP' }, { headers: withKey(key) })
  t.equal(first.status, 202)
  t.equal(first.headers.get('idempotent-replayed'), null)
  const firstBody = await json(first)
  const queued = await waiting()

  const retry = await postTransaction(api, { amount: 2000, currency: 'GBP' }, { headers: withKey(key) })
  t.equal(retry.status, 202)
  t.equal(retry.headers.get('idempotent-replayed'), 'true')
  t.equal(retry.headers.get('location'), first.headers.get('location'))
  t.same(await json(retry), firstBody)
  t.equal(await waiting(), queued, 'no new job')

  const ttl = await api.redis.client.ttl(`idempotency:1:${key}`)
  t.ok(ttl > 3500 && ttl <= 3600, `the key is kept for IDEMPOTENCY_TTL_SECONDS (ttl ${ttl})`)
  t.equal(await api.redis.client.get(`idempotency:1:${key}`), firstBody.id)
})

t.test('when the worker has moved the transaction on, then a replay still answers as the first time', async (t) => {
  const key = randomUUID()
  const first = await json(await postTransaction(api, { amount: 300, currency: 'EUR' }, { headers: withKey(key) }))
  await api.redis.client.hset(`transaction:${String(first.id)}`, 'status', 'completed')
  const retry = await postTransaction(api, { amount: 300, currency: 'EUR' }, { headers: withKey(key) })
  t.equal(retry.status, 202)
  t.same(await json(retry), first)
})

t.test('when a form request is retried as JSON with the same key and values, then it is the same request', async (t) => {
  const key = randomUUID()
  const first = await json(await postTransaction(api, { amount: '500', currency: 'USD' }, { headers: withKey(key), form: true }))
  const retry = await postTransaction(api, { amount: 500, currency: 'USD' }, { headers: withKey(key) })
  t.equal(retry.headers.get('idempotent-replayed'), 'true')
  t.same(await json(retry), first)
})

t.test('when concurrent requests share a key, then exactly one transaction and one job are created', async (t) => {
  const key = randomUUID()
  const before = await waiting()
  const responses = await Promise.all(
    Array.from({ length: 8 }, () => postTransaction(api, { amount: 700, currency: 'GBP' }, { headers: withKey(key) })),
  )
  t.same(responses.map((r) => r.status), Array(8).fill(202))
  const bodies = await Promise.all(responses.map(json))
  t.equal(new Set(bodies.map((b) => b.id)).size, 1, 'one transaction id')
  t.equal(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true').length, 7, 'seven replays')
  t.equal(await waiting(), before + 1, 'one job')
  const records = await api.redis.client.keys('transaction:*')
  const matching = await Promise.all(records.map((k) => api.redis.client.hgetall(k)))
  t.equal(matching.filter((r) => r.amount === '700').length, 1, 'one record')
})

t.test('when a key is reused with a different amount or currency, then 422 and nothing is queued', async (t) => {
  const key = randomUUID()
  t.equal((await postTransaction(api, { amount: 100, currency: 'GBP' }, { headers: withKey(key) })).status, 202)
  const queued = await waiting()
  for (const body of [{ amount: 101, currency: 'GBP' }, { amount: 100, currency: 'EUR' }]) {
    const response = await postTransaction(api, body, { headers: withKey(key) })
    t.equal(response.status, 422)
    t.same(await json(response), { error: reusedKeyMessage })
  }
  t.equal(await waiting(), queued)
})

t.test('when another user sends the same key, then it is an independent transaction', async (t) => {
  const key = randomUUID()
  const mine = await json(await postTransaction(api, { amount: 100, currency: 'GBP' }, { headers: withKey(key, alice) }))
  const theirs = await postTransaction(api, { amount: 999, currency: 'EUR' }, { headers: withKey(key, bob) })
  t.equal(theirs.status, 202)
  t.equal(theirs.headers.get('idempotent-replayed'), null)
  const body = await json(theirs)
  t.not(body.id, mine.id)
  t.match(body, { user_id: 2, amount: 999, currency: 'EUR' })
})

t.test('when the Idempotency-Key is not 1 to 255 printable characters, then 422', async (t) => {
  for (const [name, key] of [['empty', ''], ['256 characters', 'k'.repeat(256)], ['non-ASCII', 'caf\u00e9']] as const) {
    await t.test(name, async (t) => {
      const response = await postTransaction(api, { amount: 100, currency: 'GBP' }, { headers: withKey(key) })
      t.equal(response.status, 422)
      t.same(await json(response), { error: messages.invalidIdempotencyKey })
    })
  }
  await t.test('255 printable characters are fine', async (t) => {
    const key = `${randomUUID()} ~!@#$%^&*()`.padEnd(255, 'x')
    t.equal((await postTransaction(api, { amount: 100, currency: 'GBP' }, { headers: withKey(key) })).status, 202)
  })
})
