// Every endpoint of the OpenAPI document called for real, through nginx in front of the four services
// (test/helpers/isolated-platform.ts), and every answer checked against the document: its status must
// be documented for that operation and its JSON body must match the documented schema.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { openApiDocument } from '../../services/shared/openapi.ts'
import { type IsolatedPlatform, startIsolatedPlatform } from '../helpers/isolated-platform.ts'
import { describeErrors, responseValidator } from './contract.ts'

const stack: IsolatedPlatform = await startIsolatedPlatform()
t.teardown(() => stack.stop())

interface Answer {
  status: number
  headers: Headers
  body: unknown
}

// Which documented responses real answers covered: "POST /transactions 202", ...
const covered = new Set<string>()

async function call(method: string, path: string, init: { headers?: Record<string, string>; body?: string | URLSearchParams } = {}): Promise<Answer> {
  const res = await fetch(`${stack.url}${path}`, { method, redirect: 'manual', ...init })
  const text = await res.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: res.status, headers: res.headers, body }
}

/** Checks an answer of `method documentedPath` against the document. */
function conforms(t: Test, method: string, documentedPath: string, answer: Answer, expectedStatus?: number): void {
  const what = `${method} ${documentedPath} → ${answer.status}`
  if (expectedStatus !== undefined) t.equal(answer.status, expectedStatus, `${what} (expected ${expectedStatus}): ${JSON.stringify(answer.body).slice(0, 200)}`)
  let validate
  try {
    validate = responseValidator(documentedPath, method, answer.status)
  } catch (err) {
    t.fail(`${what}: ${(err as Error).message}`)
    return
  }
  t.match(answer.headers.get('content-type'), /^application\/json/, `${what}: JSON`)
  t.ok(answer.headers.get('x-request-id'), `${what}: X-Request-Id`)
  t.ok(validate(answer.body), `${what} matches the document: ${describeErrors(validate)} ${JSON.stringify(answer.body).slice(0, 200)}`)
  covered.add(`${method} ${documentedPath} ${answer.status}`)
}

const json = (body: unknown, headers: Record<string, string> = {}) => ({ headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
const form = (fields: Record<string, string>) => ({ body: new URLSearchParams(fields) })
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

async function tokenFor(username: string): Promise<string> {
  const answer = await call('POST', '/authentication/token', json({ username, password: 'password' }))
  return (answer.body as { token: string }).token
}

const alice = await tokenFor('alice')
const bob = await tokenFor('bob')
const charlie = await tokenFor('charlie')

t.test('when tokens are asked for, then every answer is the documented one', async (t) => {
  conforms(t, 'POST', '/authentication/token', await call('POST', '/authentication/token', form({ username: 'alice', password: 'password' })), 200)
  conforms(t, 'POST', '/authentication/token', await call('POST', '/authentication/token', json({ username: 'bob', password: 'password' })), 200)
  conforms(t, 'POST', '/authentication/token', await call('POST', '/authentication/token', json({ username: 'alice', password: 'wrong' })), 401)
  conforms(t, 'POST', '/authentication/token', await call('POST', '/authentication/token', json({ username: 'nobody', password: 'password' })), 401)
  conforms(t, 'POST', '/authentication/token', await call('POST', '/authentication/token', form({ username: ' ', password: 'password' })), 422)
  conforms(t, 'POST', '/authentication/token', await call('POST', '/authentication/token', json({ username: 7, password: 'password' })), 422)
  conforms(t, 'POST', '/authentication/token', await call('POST', '/authentication/token', { headers: { 'content-type': 'application/json' }, body: '{"username":' }), 400)
  conforms(t, 'POST', '/authentication/token', await call('POST', '/authentication/token', { headers: { 'content-type': 'text/plain' }, body: 'alice' }), 415)
  conforms(t, 'POST', '/authentication/token', await call('POST', '/authentication/token', json({ username: 'alice', password: 'x'.repeat(20_000) })), 413)
  conforms(t, 'GET', '/authentication/health', await call('GET', '/authentication/health'), 200)
})

t.test('when transactions are posted, then every answer is the documented one', async (t) => {
  const created = await call('POST', '/transactions', form({ token: alice, amount: '2000', currency: 'GBP' }))
  conforms(t, 'POST', '/transactions', created, 202)
  t.match(created.headers.get('location'), /^\/transactions\/[0-9a-f-]{36}$/, 'Location')
  const key = randomUUID()
  const first = await call('POST', '/transactions', json({ amount: 150, currency: 'EUR' }, { ...bearer(alice), 'idempotency-key': key }))
  conforms(t, 'POST', '/transactions', first, 202)
  const replay = await call('POST', '/transactions', json({ amount: 150, currency: 'EUR' }, { ...bearer(alice), 'idempotency-key': key }))
  conforms(t, 'POST', '/transactions', replay, 202)
  t.equal(replay.headers.get('idempotent-replayed'), 'true')
  conforms(t, 'POST', '/transactions', await call('POST', '/transactions', json({ amount: 151, currency: 'EUR' }, { ...bearer(alice), 'idempotency-key': key })), 422)
  conforms(t, 'POST', '/transactions', await call('POST', '/transactions', json({ amount: 1, currency: 'EUR' }, { ...bearer(alice), 'idempotency-key': 'k'.repeat(256) })), 422)
  conforms(t, 'POST', '/transactions', await call('POST', '/transactions', json({ amount: 2000, currency: 'GBP' })), 422)
  conforms(t, 'POST', '/transactions', await call('POST', '/transactions', json({ amount: 2000, currency: 'XYZ', token: alice })), 422)
  conforms(t, 'POST', '/transactions', await call('POST', '/transactions', json({ amount: '20.00', currency: 'GBP', token: alice })), 422)
  conforms(t, 'POST', '/transactions', await call('POST', '/transactions', json({ amount: 2000, currency: 'GBP', token: 'not.a.jwt' })), 401)
  conforms(t, 'POST', '/transactions', await call('POST', '/transactions', json({ amount: 2000, currency: 'GBP' }, bearer(charlie))), 403)
  conforms(t, 'POST', '/transactions', await call('POST', '/transactions', { headers: { 'content-type': 'application/json', ...bearer(alice) }, body: '[' }), 400)
  conforms(t, 'POST', '/transactions', await call('POST', '/transactions', { headers: { 'content-type': 'text/csv', ...bearer(alice) }, body: 'a,b' }), 415)
  conforms(t, 'POST', '/transactions', await call('POST', '/transactions', json({ amount: 1, currency: 'GBP', pad: 'x'.repeat(20_000) }, bearer(alice))), 413)
  conforms(t, 'POST', '/transactions/transactions', await call('POST', '/transactions/transactions', form({ token: alice, amount: '100', currency: 'USD' })), 202)
  conforms(t, 'POST', '/transactions/transactions', await call('POST', '/transactions/transactions', form({ token: alice, amount: '', currency: 'USD' })), 422)
  conforms(t, 'GET', '/transactions/health', await call('GET', '/transactions/health'), 200)
})

t.test('when transactions are read, then the queued, completed and missing ones are answered as documented', async (t) => {
  const created = await call('POST', '/transactions', json({ amount: 2000, currency: 'GBP' }, bearer(alice)))
  const id = (created.body as { id: string }).id
  let answer = await call('GET', `/transactions/${id}`, { headers: bearer(alice) })
  conforms(t, 'GET', '/transactions/{id}', answer, 200)
  for (let i = 0; i < 100 && (answer.body as { status?: string }).status !== 'completed'; i++) {
    await sleep(100)
    answer = await call('GET', `/transactions/${id}`, { headers: bearer(alice) })
  }
  conforms(t, 'GET', '/transactions/{id}', answer, 200)
  t.match(answer.body, { status: 'completed', loyalty: { stamps_awarded: 1 } }, 'completed, with its loyalty')
  conforms(t, 'GET', '/transactions/{id}', await call('GET', `/transactions/${id}`, { headers: bearer(bob) }), 404)
  conforms(t, 'GET', '/transactions/{id}', await call('GET', `/transactions/${randomUUID()}`, { headers: bearer(alice) }), 404)
  conforms(t, 'GET', '/transactions/{id}', await call('GET', '/transactions/not-an-id', { headers: bearer(alice) }), 404)
  conforms(t, 'GET', '/transactions/{id}', await call('GET', `/transactions/${id}`), 401)
})

t.test('when loyalty is read, then accounts with and without vouchers are answered as documented', async (t) => {
  conforms(t, 'GET', '/loyalty/me', await call('GET', '/loyalty/me', { headers: bearer(charlie) }), 200)
  // Ten transactions make bob's first voucher (10 stamps per voucher by default).
  for (let i = 0; i < 10; i++) conforms(t, 'POST', '/transactions', await call('POST', '/transactions', json({ amount: 100 + i, currency: 'GBP' }, bearer(bob))), 202)
  let account = await call('GET', '/loyalty/me', { headers: bearer(bob) })
  for (let i = 0; i < 150 && ((account.body as { vouchers?: unknown[] }).vouchers ?? []).length === 0; i++) {
    await sleep(100)
    account = await call('GET', '/loyalty/me', { headers: bearer(bob) })
  }
  conforms(t, 'GET', '/loyalty/me', account, 200)
  t.match(account.body, { user_id: 2, vouchers: [{ id: String, issued_at: String, transaction_id: String }], vouchers_total: 1, next_cursor: null }, 'a voucher')
  conforms(t, 'GET', '/loyalty/me', await call('GET', '/loyalty/me?limit=1&cursor=0', { headers: bearer(bob) }), 200)
  conforms(t, 'GET', '/loyalty/me', await call('GET', '/loyalty/me?limit=0', { headers: bearer(bob) }), 422)
  conforms(t, 'GET', '/loyalty/me', await call('GET', '/loyalty/me?cursor=x', { headers: bearer(bob) }), 422)
  conforms(t, 'GET', '/loyalty/me', await call('GET', '/loyalty/me'), 401)
  conforms(t, 'GET', '/loyalty/me', await call('GET', '/loyalty/me', { headers: bearer('a.b.c') }), 401)
  conforms(t, 'GET', '/loyalty/health', await call('GET', '/loyalty/health'), 200)
})

t.test('when a client bursts token requests, then the 429 nginx answers is the documented one', async (t) => {
  const answers = await Promise.all(Array.from({ length: 40 }, () => call('POST', '/authentication/token', json({ username: '', password: '' }))))
  const limited = answers.filter((answer) => answer.status === 429)
  t.ok(limited.length > 0, `${limited.length} of 40 limited`)
  conforms(t, 'POST', '/authentication/token', limited[0]!, 429)
  t.equal(limited[0]!.headers.get('retry-after'), '1')
})

t.test('when a service is stopped, then nginx\'s 502 is the documented one', async (t) => {
  await stack.stopService('loyalty')
  conforms(t, 'GET', '/loyalty/me', await call('GET', '/loyalty/me', { headers: bearer(alice) }), 502)
  conforms(t, 'GET', '/loyalty/health', await call('GET', '/loyalty/health'), 502)
  await stack.startService('loyalty')
})

t.test('when Redis is down, then the 503s are the documented ones', async (t) => {
  await stack.redis.kill()
  conforms(t, 'GET', '/authentication/health', await call('GET', '/authentication/health'), 503)
  conforms(t, 'GET', '/transactions/health', await call('GET', '/transactions/health'), 503)
  conforms(t, 'GET', '/loyalty/health', await call('GET', '/loyalty/health'), 503)
  conforms(t, 'POST', '/transactions', await call('POST', '/transactions', json({ amount: 1, currency: 'GBP' }, bearer(alice))), 503)
  conforms(t, 'GET', '/transactions/{id}', await call('GET', `/transactions/${randomUUID()}`, { headers: bearer(alice) }), 503)
  conforms(t, 'GET', '/loyalty/me', await call('GET', '/loyalty/me', { headers: bearer(alice) }), 503)
  conforms(t, 'POST', '/authentication/token', await call('POST', '/authentication/token', json({ username: 'alice', password: 'password' })), 503)
})

t.test('when all is done, then every documented operation was answered for real and its success checked', async (t) => {
  const paths = openApiDocument.paths as unknown as Record<string, Record<string, { responses: Record<string, unknown> }>>
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      const success = Object.keys(op.responses).find((status) => status.startsWith('2'))
      t.ok(covered.has(`${method.toUpperCase()} ${path} ${success}`), `${method.toUpperCase()} ${path} ${success} checked`)
    }
  }
  const documented = Object.entries(paths).flatMap(([path, item]) => Object.entries(item).flatMap(([method, op]) => Object.keys(op.responses).map((status) => `${method.toUpperCase()} ${path} ${status}`)))
  t.comment(`${covered.size} of ${documented.length} documented responses produced for real; not produced: ${documented.filter((key) => !covered.has(key)).join(', ')}`)
})
