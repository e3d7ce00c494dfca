// Bad input, case by case, through nginx to the real services (run by PM2 as on the machine): forged
// and broken tokens, malformed and hostile bodies, malformed paths. Every answer must be a clear 4xx
// with a JSON {"error": ...} (never a 5xx), and the services must not restart.
//
// nginx here allows 1000 token requests/s instead of 10, so that these cases reach the Auth API instead
// of stopping at 429 (the limit itself is tested in brute-force.security.ts).
//
//   npm run build && npx tap --disable-coverage test/security/requests.security.ts
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { type HttpReply, request } from '../helpers/http-client.ts'
import { startPlatform } from '../helpers/platform-stack.ts'
import { badTokens } from './bad-tokens.ts'
import { restartsOf } from './checks.ts'

const stack = await startPlatform({ tokenRateLimit: { ratePerSecond: 1000, burst: 1000 }, loginFailureLimits: { perUser: 100_000, perAddress: 100_000 } })
t.teardown(() => stack.stop())
const restartsBefore = await restartsOf(stack)

const isJsonError = (reply: HttpReply): boolean =>
  /^application\/json/.test(String(reply.headers['content-type'])) && typeof (reply.json as { error?: unknown } | undefined)?.error === 'string'

const show = (reply: HttpReply): string => `${reply.status} ${reply.text.slice(0, 160)}`

async function postTransaction(body: unknown, headers: Record<string, string> = {}): Promise<HttpReply> {
  return request(`${stack.url}/transactions`, { method: 'POST', headers: { authorization: `Bearer ${stack.token(1)}`, ...headers }, body })
}

await t.test('when a protected endpoint gets a forged, broken or expired token, then 401 with a JSON error, never a 5xx', async (t) => {
  const { valid, cases } = badTokens(stack.jwtSecret)
  const created = await postTransaction({ amount: 100, currency: 'GBP' }, { authorization: `Bearer ${valid}` })
  t.equal(created.status, 202, 'control: the valid token posts a transaction', { reply: show(created) })
  const id = String((created.json as { id?: unknown }).id)
  const endpoints: Array<{ name: string; send: (authorization: string) => Promise<HttpReply>; ok: number }> = [
    { name: 'POST /transactions', send: (authorization) => postTransaction({ amount: 100, currency: 'GBP' }, { authorization }), ok: 202 },
    { name: 'GET /transactions/<id>', send: (authorization) => request(`${stack.url}/transactions/${id}`, { headers: { authorization } }), ok: 200 },
    { name: 'GET /loyalty/me', send: (authorization) => request(`${stack.url}/loyalty/me`, { headers: { authorization } }), ok: 200 },
  ]
  for (const endpoint of endpoints) {
    const control = await endpoint.send(`Bearer ${valid}`)
    t.equal(control.status, endpoint.ok, `${endpoint.name} with the valid token → ${endpoint.ok}`, { reply: show(control) })
    for (const { name, authorization } of cases) {
      const reply = await endpoint.send(authorization)
      t.equal(reply.status, 401, `${endpoint.name}, ${name} → 401`, { reply: show(reply) })
      t.ok(isJsonError(reply), `${endpoint.name}, ${name}: a JSON error`, { reply: show(reply) })
    }
  }
  // The original clients send the token in the body (form or JSON) instead of a header.
  for (const { name, authorization } of cases) {
    const token = authorization.replace(/^Bearer ?/, '')
    if (token === '' || token === authorization) continue
    const form = await request(`${stack.url}/transactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, amount: '100', currency: 'GBP' }).toString(),
    })
    t.equal(form.status, 401, `POST /transactions with the token in a form, ${name} → 401`, { reply: show(form) })
  }
})

interface BodyCase {
  name: string
  body: string | Buffer
  contentType?: string
  headers?: Record<string, string>
  status: number
  error?: RegExp
}

const json = (value: unknown): string => JSON.stringify(value)
const deep = (depth: number, inner = '1'): string => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`

function transactionCases(): BodyCase[] {
  const cases: BodyCase[] = [
    { name: 'malformed JSON (truncated)', body: '{"amount": 100, "currency": ', status: 400, error: /JSON/ },
    { name: 'malformed JSON (unquoted keys)', body: '{amount: 100, currency: "GBP"}', status: 400, error: /JSON/ },
    { name: 'malformed JSON (trailing comma)', body: '{"amount": 100, "currency": "GBP",}', status: 400, error: /JSON/ },
    { name: 'a JSON string, not an object', body: '"amount=100"', status: 400 },
    { name: 'a JSON array', body: '[{"amount": 100, "currency": "GBP"}]', status: 400 },
    { name: 'a JSON null', body: 'null', status: 400 },
    { name: 'an empty body', body: '', status: 422, error: /blank/i },
    { name: 'text/plain', body: json({ amount: 100, currency: 'GBP' }), contentType: 'text/plain', status: 415 },
    { name: 'application/xml', body: '<amount>100</amount>', contentType: 'application/xml', status: 415 },
    { name: 'multipart/form-data', body: '--x\r\nContent-Disposition: form-data; name="amount"\r\n\r\n100\r\n--x--\r\n', contentType: 'multipart/form-data; boundary=x', status: 415 },
    { name: 'no Content-Type', body: json({ amount: 100, currency: 'GBP' }), contentType: '', status: 415 },
    { name: 'JSON in latin1', body: json({ amount: 100, currency: 'GBP' }), contentType: 'application/json; charset=latin1', status: 415 },
    { name: 'a body that is not the gzip it claims', body: json({ amount: 100, currency: 'GBP' }), headers: { 'content-encoding': 'gzip' }, status: 400 },
    { name: 'an unknown Content-Encoding', body: json({ amount: 100, currency: 'GBP' }), headers: { 'content-encoding': 'zstd-fancy' }, status: 415 },
    { name: 'a 2 MB body', body: json({ amount: 100, currency: 'GBP', pad: 'x'.repeat(2 * 1024 * 1024) }), status: 413 },
    { name: 'a 17 kB body (limit 16 kB)', body: json({ amount: 100, currency: 'GBP', pad: 'x'.repeat(17 * 1024) }), status: 413 },
    { name: 'JSON nested 7000 deep as the amount', body: `{"amount":${deep(7000)},"currency":"GBP"}`, status: 422, error: /Amount/ },
    { name: 'JSON nested 7000 deep as the body', body: deep(7000, '{}'), status: 400 },
    { name: 'objects nested 1500 deep in an unknown field', body: `{"amount":100,"currency":"GBP","x":${'{"a":'.repeat(1500)}1${'}'.repeat(1500)}}`, status: 422, error: /Unknown field: "x"/ },
    { name: 'bytes that are not UTF-8', body: Buffer.concat([Buffer.from('{"amount":100,"currency":"'), Buffer.from([0xff, 0xfe, 0xfd]), Buffer.from('"}')]), status: 422, error: /currency/i },
    { name: 'form with amount twice', body: 'amount=1&amount=2&currency=GBP', contentType: 'application/x-www-form-urlencoded', status: 422, error: /Amount/ },
    { name: 'form with amount[]', body: 'amount[]=1&currency=GBP', contentType: 'application/x-www-form-urlencoded', status: 422, error: /Amount/ },
    { name: 'form with 200 fields', body: Array.from({ length: 200 }, (_, i) => `f${i}=1`).join('&'), contentType: 'application/x-www-form-urlencoded', status: 413 },
    { name: 'Idempotency-Key of 300 characters', body: json({ amount: 100, currency: 'GBP' }), headers: { 'idempotency-key': 'k'.repeat(300) }, status: 422, error: /Idempotency-Key/ },
    { name: 'Idempotency-Key with latin1 bytes', body: json({ amount: 100, currency: 'GBP' }), headers: { 'idempotency-key': 'clé-\u00e9' }, status: 422, error: /Idempotency-Key/ },
  ]
  const amounts: Array<[string, unknown, RegExp]> = [
    ['a word', 'abc', /Amount must/], ['true', true, /Amount must/], ['false', false, /Amount must/], ['null', null, /Amount is blank/],
    ['an array', [100], /Amount must/], ['an object', { value: 100 }, /Amount must/], ['1.5', 1.5, /Amount must/], ['-1', -1, /Amount must/],
    ['0', 0, /Amount must/], ['"0"', '0', /Amount must/], ['"-5"', '-5', /Amount must/], ['"20.00"', '20.00', /Amount must/],
    ['"1e3"', '1e3', /Amount must/], ['" 5"', ' 5', /Amount must/], ['blank', '   ', /Amount is blank/], ['2^53', 2 ** 53, /Amount must/],
    ['1e21', 1e21, /Amount must/], ['17 digits', '99999999999999999', /Amount must/], ['2^53 + 1 as digits', '9007199254740993', /Amount must/],
    ['Arabic-Indic digits', '١٢٣', /Amount must/], ['full-width digits', '１２３', /Amount must/],
  ]
  for (const [name, amount, error] of amounts) cases.push({ name: `amount ${name}`, body: json({ amount, currency: 'GBP' }), status: 422, error })
  const currencies: Array<[string, unknown, RegExp]> = [
    ['a number', 826, /currency/i], ['true', true, /currency/i], ['an array', ['GBP'], /currency/i], ['an object', { code: 'GBP' }, /currency/i],
    ['lower case', 'gbp', /currency/i], ['two letters', 'GB', /currency/i], ['four letters', 'GBPP', /currency/i], ['not ISO 4217', 'QQQ', /currency/i],
    ['full-width', 'ＧＢＰ', /currency/i], ['with a NUL', 'G\u0000P', /currency/i], ['an emoji', '💷', /currency/i], ['null', null, /Currency is blank/],
    ['empty', '', /Currency is blank/], ['right-to-left override', '\u202eGBP', /currency/i],
  ]
  for (const [name, currency, error] of currencies) cases.push({ name: `currency ${name}`, body: json({ amount: 100, currency }), status: 422, error })
  // No Authorization header: the token comes from the body.
  for (const [name, token, status] of [['a number', 12345, 401], ['an array', ['x'], 401], ['an object', { jwt: 'x' }, 401], ['empty', '', 422], ['null', null, 422]] as const) {
    cases.push({ name: `body token ${name}`, body: json({ token, amount: 100, currency: 'GBP' }), headers: { authorization: '' }, status })
  }
  return cases
}

await t.test('when POST /transactions gets a malformed, mistyped, out-of-range or hostile body, then a clear 4xx JSON error', async (t) => {
  for (const c of transactionCases()) {
    const headers: Record<string, string> = { authorization: `Bearer ${stack.token(1)}`, ...c.headers }
    if (c.contentType !== '') headers['content-type'] = c.contentType ?? 'application/json'
    if (headers.authorization === '') delete headers.authorization
    const reply = await request(`${stack.url}/transactions`, { method: 'POST', headers, body: c.body })
    t.equal(reply.status, c.status, `${c.name} → ${c.status}`, { reply: show(reply) })
    if (c.status >= 400) {
      t.ok(isJsonError(reply), `${c.name}: a JSON error`, { reply: show(reply) })
      if (c.error) t.match((reply.json as { error?: string } | undefined)?.error, c.error, `${c.name}: says what is wrong`)
    }
  }
})

await t.test('when POST /transactions has unknown fields, then 422 names them and nothing is stored: user, status and loyalty are not the client\'s to set', async (t) => {
  const id = randomUUID()
  const reply = await postTransaction({ amount: 321, currency: 'EUR', user_id: 2, status: 'completed', loyalty: { stamps_awarded: 100 }, admin: true, id })
  t.equal(reply.status, 422, 'refused', { reply: show(reply) })
  t.ok(isJsonError(reply), 'a JSON error')
  t.match((reply.json as { error?: string }).error, /^Unknown fields: "user_id", "status", "loyalty", "admin", "id"$/, 'names every unknown field')
  const mine = await request(`${stack.url}/transactions/${id}`, { headers: { authorization: `Bearer ${stack.token(1)}` } })
  t.equal(mine.status, 404, 'nothing stored under the id it sent')
  // 100 × 64 characters: under nginx's 16 kB body limit.
  const many = await postTransaction({ amount: 1, currency: 'EUR', ...Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`${'x'.repeat(60)}${i}`, i])) })
  t.equal(many.status, 422, '100 unknown fields with long names → 422', { reply: show(many) })
  t.ok((many.json as { error: string }).error.length < 300, 'and a short message (five names, cut to 40 characters, "and 95 more")', { reply: show(many) })
  t.match((many.json as { error: string }).error, / and 95 more$/)
})

await t.test('when POST /authentication/token gets a malformed, mistyped or hostile body, then a clear 4xx JSON error', async (t) => {
  const cases: BodyCase[] = [
    { name: 'malformed JSON', body: '{"username": "alice", ', status: 400 },
    { name: 'a JSON array', body: '["alice", "password"]', status: 400 },
    { name: 'text/plain', body: 'username=alice&password=password', contentType: 'text/plain', status: 415 },
    { name: 'a 2 MB body', body: json({ username: 'alice', password: 'x'.repeat(2 * 1024 * 1024) }), status: 413 },
    { name: 'username a number', body: json({ username: 1, password: 'password' }), status: 422, error: /Username/ },
    { name: 'username an array', body: json({ username: ['alice'], password: 'password' }), status: 422, error: /Username/ },
    { name: 'username an object', body: json({ username: { $ne: null }, password: 'password' }), status: 422, error: /Username/ },
    { name: 'username null', body: json({ username: null, password: 'password' }), status: 422, error: /Username/ },
    { name: 'username blank', body: json({ username: '  ', password: 'password' }), status: 422, error: /Username/ },
    { name: 'password a number', body: json({ username: 'alice', password: 12345 }), status: 422, error: /Password/ },
    { name: 'password an object', body: json({ username: 'alice', password: { $gt: '' } }), status: 422, error: /Password/ },
    { name: 'password missing', body: json({ username: 'alice' }), status: 422, error: /Password/ },
    { name: 'nested 7000 deep', body: `{"username":${deep(7000, '"alice"')},"password":"password"}`, status: 422, error: /Username/ },
    { name: 'form with username twice', body: 'username=alice&username=bob&password=password', contentType: 'application/x-www-form-urlencoded', status: 422, error: /Username/ },
    { name: 'a unicode username that does not exist', body: json({ username: 'ålice\u0301🙂', password: 'password' }), status: 401 },
    { name: 'alice with a NUL', body: json({ username: 'alice\u0000', password: 'password' }), status: 401 },
    { name: 'lone surrogates', body: '{"username":"\\ud800","password":"\\udfff"}', status: 401 },
    { name: 'a 15 kB password', body: json({ username: 'alice', password: 'p'.repeat(15 * 1024) }), status: 401 },
    { name: 'a key-looking username', body: json({ username: 'alice*', password: 'password' }), status: 401 },
  ]
  for (const c of cases) {
    const headers: Record<string, string> = { ...c.headers }
    headers['content-type'] = c.contentType ?? 'application/json'
    const reply = await request(`${stack.url}/authentication/token`, { method: 'POST', headers, body: c.body })
    t.equal(reply.status, c.status, `${c.name} → ${c.status}`, { reply: show(reply) })
    t.ok(isJsonError(reply), `${c.name}: a JSON error`, { reply: show(reply) })
    if (c.error) t.match((reply.json as { error?: string } | undefined)?.error, c.error, `${c.name}: says what is wrong`)
  }
  const control = await request(`${stack.url}/authentication/token`, { method: 'POST', body: { username: 'alice', password: 'password' } })
  t.equal(control.status, 200, 'control: alice logs in')
})

await t.test('when a path is malformed, traverses or is absurd, then a 4xx, never a 5xx, and JSON from the services', async (t) => {
  const token = stack.token(1)
  const paths = [
    '/transactions/transactions/%ff', '/transactions/%ff', '/transactions/%E0%A4%A', '/loyalty/%E0%A4%A', '/authentication/%ff',
    '/transactions/..%2f..%2fetc%2fpasswd', '/transactions/../../etc/passwd', '/loyalty/me%00', '/loyalty/me/', '/loyalty/ME',
    '/transactions/%2e%2e/%2e%2e/loyalty/me', `/transactions/${'a'.repeat(4000)}`, '/transactions/;DROP TABLE', '/transactions/\u00e9',
    '/transactions/00000000-0000-0000-0000-000000000000', '/transactions/health/../health', '/authentication/token?x=%ff',
  ]
  const nginxOwn: string[] = []
  for (const path of paths) {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
      const reply = await request(`${stack.url}${encodeURI(path).replace(/%25/g, '%')}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: method === 'GET' ? undefined : '{"amount":100,"currency":"GBP"}',
      })
      t.ok(reply.status < 500, `${method} ${path.slice(0, 60)} → ${reply.status}`, { reply: show(reply) })
      // nginx refuses some URLs itself (a %-escape it cannot decode, an encoded NUL or ../ escape).
      const fromNginx = reply.status === 400 && /^text\/html/.test(String(reply.headers['content-type']))
      if (fromNginx) nginxOwn.push(`${method} ${path}`)
      else if (reply.status >= 400) t.ok(isJsonError(reply), `${method} ${path.slice(0, 60)}: a JSON error`, { reply: show(reply) })
    }
  }
  t.same(nginxOwn, [], `nginx's own 400s are JSON too (${nginxOwn.length} HTML)`)
})

await t.test('when all of that is over, then no service restarted', async (t) => {
  t.same(await restartsOf(stack), restartsBefore, 'same pids, no restart')
})
