import t, { type Test } from 'tap'
import { queueCounts } from '../../../services/shared/queue/index.ts'
import { messages } from '../../../services/transaction-api/request-validation.ts'
import { alice, badTokens, carol, json, postTransaction, SECRET, startApi, tokenFor } from './harness.ts'

const api = await startApi(t)
// Every token sent in this file, to check that none of them reaches the logs.
const sentTokens = new Set<string>()
const token = (user = alice): string => {
  const value = tokenFor(user)
  sentTokens.add(value)
  return value
}
const bad = badTokens()
for (const value of Object.values(bad)) sentTokens.add(value)

async function expectError(
  t: Test,
  response: Response,
  status: number,
  error: string,
): Promise<void> {
  t.equal(response.status, status, `status ${status}`)
  t.match(response.headers.get('content-type'), /^application\/json/)
  t.same(await json(response), { error })
}

t.test('when a JSON transaction is posted, then it is stored, queued and answered with 202', async (t) => {
  const before = await queueCounts(api.queue)
  const response = await postTransaction(api, { token: token(), amount: 2000, currency: 'GBP' })
  t.equal(response.status, 202)
  t.equal(response.headers.get('idempotent-replayed'), null)
  const body = await json(response)
  t.match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  t.same(body, { id: body.id, user_id: 1, amount: 2000, currency: 'GBP', status: 'queued' })
  t.equal(response.headers.get('location'), `/transactions/${String(body.id)}`)

  const record = await api.redis.client.hgetall(`transaction:${String(body.id)}`)
  t.match(record, { id: body.id, user_id: '1', amount: '2000', currency: 'GBP', status: 'queued' })
  t.match(record.created_at, /^\d{4}-\d\d-\d\dT/)
  t.equal(record.updated_at, record.created_at)
  t.match(record.job_id, /^\d+$/)

  const job = await api.redis.client.hgetall(`q:job:${String(record.job_id)}`)
  t.equal(job.type, 'transaction')
  t.same(JSON.parse(job.data ?? '{}'), { transaction_id: body.id, user_id: 1, amount: 2000, currency: 'GBP', created_at: record.created_at })
  const after = await queueCounts(api.queue)
  t.equal(after.waiting, before.waiting + 1, 'one job more waits in the queue')
})

t.test('when a form is posted as the original clients did, then the digit string is the amount', async (t) => {
  const response = await postTransaction(api, { token: token(), amount: '2000', currency: 'GBP' }, { form: true })
  t.equal(response.status, 202)
  const body = await json(response)
  t.same(body, { id: body.id, user_id: 1, amount: 2000, currency: 'GBP', status: 'queued' })
  t.equal(await api.redis.client.hget(`transaction:${String(body.id)}`, 'amount'), '2000')
})

t.test('when the token comes as a Bearer header, then the body needs none and the header wins', async (t) => {
  const viaHeader = await postTransaction(api, { amount: 150, currency: 'EUR' }, { headers: { authorization: `Bearer ${token()}` } })
  t.equal(viaHeader.status, 202)
  const headerWins = await postTransaction(
    api,
    { token: 'garbage', amount: 150, currency: 'EUR' },
    { headers: { authorization: `Bearer ${token()}` } },
  )
  t.equal(headerWins.status, 202, 'a bad body token is ignored next to a good header')
  const badHeaderWins = await postTransaction(api, { token: token(), amount: 150, currency: 'EUR' }, { headers: { authorization: `Bearer ${bad.expired!}` } })
  t.equal(badHeaderWins.status, 401, 'a good body token does not rescue a bad header')
})

t.test('when unknown fields are sent, then 422 names them and nothing is stored', async (t) => {
  const before = await api.redis.client.keys('transaction:*')
  const response = await postTransaction(api, { token: token(), amount: 1, currency: 'JPY', note: 'coffee', user_id: 99 })
  t.equal(response.status, 422)
  t.same(await json(response), { error: 'Unknown fields: "note", "user_id"' })
  t.same(await api.redis.client.keys('transaction:*'), before, 'no record written')
  const form = await postTransaction(api, { token: token(), amount: '1', currency: 'JPY', memo: 'x' }, { form: true })
  t.equal(form.status, 422, 'in a form too')
  t.same(await json(form), { error: 'Unknown field: "memo"' })
})

t.test('when the amount is the largest safe integer, then it is accepted', async (t) => {
  const response = await postTransaction(api, { token: token(), amount: Number.MAX_SAFE_INTEGER, currency: 'GBP' })
  t.equal(response.status, 202)
  t.match(await json(response), { amount: Number.MAX_SAFE_INTEGER })
})

t.test('when a field is blank, then 422 names it, before anything about the token', async (t) => {
  const cases: [string, Record<string, unknown>, boolean, string][] = [
    ['no token at all', { amount: 2000, currency: 'GBP' }, false, messages.tokenBlank],
    ['an empty token', { token: '', amount: 2000, currency: 'GBP' }, false, messages.tokenBlank],
    ['a whitespace token', { token: '   ', amount: 2000, currency: 'GBP' }, false, messages.tokenBlank],
    ['a null token', { token: null, amount: 2000, currency: 'GBP' }, false, messages.tokenBlank],
    ['an empty form token', { token: '', amount: '2000', currency: 'GBP' }, true, messages.tokenBlank],
    ['no token and no amount', { currency: 'GBP' }, false, messages.tokenBlank],
    ['no amount', { token: token(), currency: 'GBP' }, false, messages.amountBlank],
    ['a null amount', { token: token(), amount: null, currency: 'GBP' }, false, messages.amountBlank],
    ['an empty form amount', { token: token(), amount: '', currency: 'GBP' }, true, messages.amountBlank],
    ['a whitespace amount', { token: token(), amount: '  ', currency: 'GBP' }, false, messages.amountBlank],
    ['no currency', { token: token(), amount: 2000 }, false, messages.currencyBlank],
    ['an empty form currency', { token: token(), amount: '2000', currency: '' }, true, messages.currencyBlank],
    ['a bad token and no amount', { token: bad.expired, currency: 'GBP' }, false, messages.amountBlank],
    ['a token of a user who cannot transact and no currency', { token: token(carol), amount: 1 }, false, messages.currencyBlank],
  ]
  for (const [name, body, form, error] of cases) {
    await t.test(name, async (t) => expectError(t, await postTransaction(api, body, { form }), 422, error))
  }
  await t.test('a bad Bearer header and no currency', async (t) =>
    expectError(t, await postTransaction(api, { amount: 1 }, { headers: { authorization: 'Bearer nope' } }), 422, messages.currencyBlank),
  )
})

t.test('when the token is bad, then 401 with WWW-Authenticate, as a body token or a Bearer header', async (t) => {
  for (const [name, value] of Object.entries(bad)) {
    await t.test(`${name} in the body`, async (t) => {
      const response = await postTransaction(api, { token: value, amount: 2000, currency: 'GBP' })
      t.equal(response.headers.get('www-authenticate'), 'Bearer')
      await expectError(t, response, 401, 'Invalid or expired token')
    })
    await t.test(`${name} as a Bearer header`, async (t) => {
      const response = await postTransaction(api, { amount: 2000, currency: 'GBP' }, { headers: { authorization: `Bearer ${value}` } })
      await expectError(t, response, 401, 'Invalid or expired token')
    })
  }
  for (const authorization of ['', 'Bearer', 'Bearer ', `Basic ${Buffer.from('alice:pw').toString('base64')}`, `Token ${token()}`, `Bearer ${token()} extra`]) {
    await t.test(`a malformed Authorization header ${JSON.stringify(authorization)}`, async (t) => {
      const response = await postTransaction(api, { token: token(), amount: 2000, currency: 'GBP' }, { headers: { authorization } })
      await expectError(t, response, 401, 'Invalid or expired token')
    })
  }
  await t.test('a token that is not a string', async (t) =>
    expectError(t, await postTransaction(api, { token: 12345, amount: 2000, currency: 'GBP' }), 401, 'Invalid or expired token'),
  )
  await t.test('a bad token is refused before a bad value is looked at', async (t) =>
    expectError(t, await postTransaction(api, { token: bad.HS512, amount: '20.00', currency: 'gbp' }), 401, 'Invalid or expired token'),
  )
})

t.test('when the user cannot transact, then 403, before a bad value is looked at', async (t) => {
  await expectError(t, await postTransaction(api, { token: token(carol), amount: 2000, currency: 'GBP' }), 403, messages.cannotTransact)
  await expectError(t, await postTransaction(api, { token: token(carol), amount: -1, currency: 'XXX' }), 403, messages.cannotTransact)
})

t.test('when the currency is not an upper-case ISO 4217 code, then 422 Invalid currency code', async (t) => {
  for (const currency of ['gbp', 'Gbp', 'XXXX', 'ZZZ', 'GB', ' GBP', 826, true, ['GBP'], { code: 'GBP' }]) {
    await t.test(JSON.stringify(currency), async (t) =>
      expectError(t, await postTransaction(api, { token: token(), amount: 2000, currency }), 422, messages.invalidCurrency),
    )
  }
  await t.test('a form with a lowercase code', async (t) =>
    expectError(t, await postTransaction(api, { token: token(), amount: '2000', currency: 'gbp' }, { form: true }), 422, messages.invalidCurrency),
  )
  await t.test('the currency is reported before a bad amount', async (t) =>
    expectError(t, await postTransaction(api, { token: token(), amount: '20.00', currency: 'gbp' }), 422, messages.invalidCurrency),
  )
})

t.test('when the amount is not a positive integer in minor units, then 422 says what it must be', async (t) => {
  const json: unknown[] = [
    '20.00', '1e3', '-5', '0', '00', '+5', '0x10', ' 2000', '2000 ', '2,000', '9007199254740992', '99999999999999999999',
    20.5, -5, 0, Number.MAX_SAFE_INTEGER + 1, 1e300, true, false, [2000], { value: 2000 },
  ]
  for (const amount of json) {
    await t.test(`JSON ${JSON.stringify(amount)}`, async (t) =>
      expectError(t, await postTransaction(api, { token: token(), amount, currency: 'GBP' }), 422, messages.invalidAmount),
    )
  }
  for (const amount of ['20.00', '1e3', '-5', '0', 'twenty']) {
    await t.test(`form ${JSON.stringify(amount)}`, async (t) =>
      expectError(t, await postTransaction(api, { token: token(), amount, currency: 'GBP' }, { form: true }), 422, messages.invalidAmount),
    )
  }
  await t.test('a form that repeats the amount', async (t) => {
    const response = await fetch(`${api.url}/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${token()}&amount=1&amount=2&currency=GBP`,
    })
    await expectError(t, response, 422, messages.invalidAmount)
  })
})

t.test('when the body is not a JSON object or a form, then 4xx, never 5xx', async (t) => {
  const post = (body: string, contentType: string): Promise<Response> =>
    fetch(`${api.url}/transactions`, { method: 'POST', headers: { 'content-type': contentType }, body })
  await t.test('text/plain is 415', async (t) => {
    const response = await post(`token=${token()}&amount=2000&currency=GBP`, 'text/plain')
    t.equal(response.status, 415)
    t.match(await json(response), { error: /Content-Type/ })
  })
  await t.test('no body and no content type is 415', async (t) => {
    const response = await fetch(`${api.url}/transactions`, { method: 'POST' })
    t.equal(response.status, 415)
  })
  await t.test('more than 16 kB is 413', async (t) => {
    const response = await post(JSON.stringify({ token: token(), amount: 2000, currency: 'GBP', padding: 'x'.repeat(17 * 1024) }), 'application/json')
    t.equal(response.status, 413)
    t.match(await json(response), { error: /larger than 16kb/ })
  })
  await t.test('malformed JSON is 400', async (t) => {
    const response = await post('{"token": ', 'application/json')
    t.equal(response.status, 400)
    t.same(await json(response), { error: 'Malformed JSON body' })
  })
  await t.test('a JSON array is 400', async (t) => {
    const response = await post('[1, 2]', 'application/json')
    t.equal(response.status, 400)
  })
})

t.test('when requests were answered, then the logs hold neither the JWT secret nor any token', async (t) => {
  const logs = api.log.lines.join('')
  t.ok(logs.length > 0, 'something was logged')
  t.notOk(logs.includes(SECRET), 'no secret')
  const leaked = [...sentTokens].filter((value) => value.length > 10 && logs.includes(value))
  t.same(leaked, [], 'no token')
  t.notOk(/eyJ[\w-]+\.eyJ/.test(logs), 'nothing that looks like a JWT')
})
