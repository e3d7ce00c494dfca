import { randomUUID } from 'node:crypto'
import t from 'tap'
import { alice, badTokens, bob, carol, getTransaction, json, postTransaction, startApi, tokenFor } from './harness.ts'

const api = await startApi(t)
const created = await json(await postTransaction(api, { token: tokenFor(alice), amount: 2000, currency: 'GBP' }))
const id = String(created.id)

t.test('when the owner asks, then 200 with the record (and no internals)', async (t) => {
  const response = await getTransaction(api, id, tokenFor(alice))
  t.equal(response.status, 200)
  const body = await json(response)
  t.same(Object.keys(body).sort(), ['amount', 'created_at', 'currency', 'id', 'status', 'updated_at', 'user_id'])
  t.match(body, { id, user_id: 1, amount: 2000, currency: 'GBP', status: 'queued', created_at: /Z$/, updated_at: /Z$/ })
})

t.test('when the transaction is completed, then its loyalty is shown', async (t) => {
  const loyalty = { stamps_awarded: 1, stamps_after: 10, voucher_id: randomUUID() }
  await api.redis.client.hset(`transaction:${id}`, { status: 'completed', loyalty: JSON.stringify(loyalty), updated_at: new Date().toISOString() })
  const body = await json(await getTransaction(api, id, tokenFor(alice)))
  t.match(body, { status: 'completed', loyalty })
  t.equal(body.job_id, undefined)
})

t.test('when a user who cannot transact asks for their own transaction, then they may read it', async (t) => {
  const theirs = randomUUID()
  const at = new Date().toISOString()
  await api.redis.client.hset(`transaction:${theirs}`, { id: theirs, user_id: '3', amount: '1', currency: 'GBP', status: 'failed', created_at: at, updated_at: at, error: 'x' })
  const response = await getTransaction(api, theirs, tokenFor(carol))
  t.equal(response.status, 200)
  t.match(await json(response), { id: theirs, status: 'failed' })
})

t.test('when it is not found, or not the caller’s, then 404 alike', async (t) => {
  for (const [name, txId, user] of [
    ['another user’s transaction', id, bob],
    ['an unknown id', randomUUID(), alice],
    ['a malformed id', 'not-a-uuid', alice],
    ['an upper-case id', id.toUpperCase(), alice],
    ['a key-like id', '*', alice],
  ] as const) {
    await t.test(name, async (t) => {
      const response = await getTransaction(api, txId, tokenFor(user))
      t.equal(response.status, 404)
      t.same(await json(response), { error: 'Transaction not found' })
    })
  }
})

t.test('when the token is missing or bad, then 401', async (t) => {
  await t.test('no Authorization header', async (t) => {
    const response = await getTransaction(api, id)
    t.equal(response.status, 401)
    t.equal(response.headers.get('www-authenticate'), 'Bearer')
    t.match(await json(response), { error: /Bearer/ })
  })
  await t.test('a token in the query string is not accepted', async (t) => {
    const response = await fetch(`${api.url}/transactions/${id}?token=${tokenFor(alice)}`)
    t.equal(response.status, 401)
  })
  await t.test('a Basic header', async (t) => {
    const response = await fetch(`${api.url}/transactions/${id}`, { headers: { authorization: 'Basic YTpi' } })
    t.equal(response.status, 401)
  })
  for (const [name, token] of Object.entries(badTokens())) {
    await t.test(name, async (t) => {
      const response = await getTransaction(api, id, token)
      t.equal(response.status, 401)
      t.same(await json(response), { error: 'Invalid or expired token' })
    })
  }
  await t.test('a bad token for an unknown id is 401, not 404', async (t) => {
    t.equal((await getTransaction(api, randomUUID(), badTokens().expired)).status, 401)
  })
})
