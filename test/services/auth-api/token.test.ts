import jwt from 'jsonwebtoken'
import t from 'tap'
import { developmentUsers, seedUsers } from '../../../services/auth-api/seed.ts'
import { startRedis } from '../../helpers/redis-server.ts'
import { JWT_SECRET, postForm, postJson, startAuth, testConfig } from './auth-server.ts'

// One Redis and one Auth API for the whole file; with a TTL other than the default, to see it is used.
const redis = await startRedis()
t.teardown(() => redis.stop())
await seedUsers(redis.client, developmentUsers)
const auth = await startAuth(testConfig(redis.urlOf('auth'), { TOKEN_TTL_SECONDS: 45 }))
t.teardown(() => auth.stop())

async function tokenClaims(response: Response): Promise<Record<string, unknown>> {
  const body = (await response.json()) as { token: string }
  t.same(Object.keys(body), ['token'])
  const decoded = jwt.decode(body.token, { complete: true })
  t.match(decoded?.header, { alg: 'HS256', typ: 'JWT' })
  return jwt.verify(body.token, JWT_SECRET, { algorithms: ['HS256'] }) as Record<string, unknown>
}

t.test('when alice posts a form (as the original clients do), then she gets a signed token', async (t) => {
  const before = Math.floor(Date.now() / 1000)
  const response = await postForm(auth.url, { username: 'alice', password: 'password' })
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^application\/json/)
  const claims = await tokenClaims(response)
  t.same(Object.keys(claims).sort(), ['can_transact', 'exp', 'iat', 'user_id', 'username'])
  t.match(claims, { user_id: 1, username: 'alice', can_transact: true })
  t.ok((claims.iat as number) >= before && (claims.iat as number) <= before + 2, 'issued now')
  t.equal((claims.exp as number) - (claims.iat as number), 45, 'exp = iat + TOKEN_TTL_SECONDS')
})

t.test('when charlie posts JSON, then he gets a token that says he cannot transact', async (t) => {
  const response = await postJson(auth.url, { username: 'charlie', password: 'password' })
  t.equal(response.status, 200)
  t.match(await tokenClaims(response), { user_id: 3, username: 'charlie', can_transact: false })
})

t.test('when the username is missing, empty, blank or null, then 422 "Username is blank", before the password', async (t) => {
  const cases: unknown[] = [{}, { password: 'password' }, { username: '' }, { username: '   ', password: '' }, { username: null, password: 'x' }]
  for (const body of cases) {
    const response = await postJson(auth.url, body)
    t.equal(response.status, 422, JSON.stringify(body))
    t.same(await response.json(), { error: 'Username is blank' })
  }
  const form = await postForm(auth.url, { username: '', password: '' })
  t.equal(form.status, 422)
  t.same(await form.json(), { error: 'Username is blank' })
})

t.test('when the password is missing, empty or blank, then 422 "Password is blank"', async (t) => {
  for (const body of [{ username: 'alice' }, { username: 'alice', password: '' }, { username: 'alice', password: ' \t' }]) {
    const response = await postJson(auth.url, body)
    t.equal(response.status, 422, JSON.stringify(body))
    t.same(await response.json(), { error: 'Password is blank' })
  }
  const form = await postForm(auth.url, { username: 'alice' })
  t.equal(form.status, 422)
  t.same(await form.json(), { error: 'Password is blank' })
})

t.test('when a field is not a string, then 422 saying so, never a 500', async (t) => {
  const cases: [unknown, string][] = [
    [{ username: 1, password: 'password' }, 'Username must be a string'],
    [{ username: ['alice'], password: 'password' }, 'Username must be a string'],
    [{ username: { $ne: '' }, password: 'password' }, 'Username must be a string'],
    [{ username: true, password: 'password' }, 'Username must be a string'],
    [{ username: 'alice', password: 12345 }, 'Password must be a string'],
    [{ username: 'alice', password: ['password'] }, 'Password must be a string'],
    [{ username: 'alice', password: { length: 8 } }, 'Password must be a string'],
  ]
  for (const [body, error] of cases) {
    const response = await postJson(auth.url, body)
    t.equal(response.status, 422, JSON.stringify(body))
    t.same(await response.json(), { error })
  }
  // A repeated form field arrives as an array.
  const repeated = await fetch(`${auth.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'username=alice&username=bob&password=password',
  })
  t.equal(repeated.status, 422)
  t.same(await repeated.json(), { error: 'Username must be a string' })
})

t.test('when a login has fields besides username and password, then 422 names them, before any password check', async (t) => {
  const json = await postJson(auth.url, { username: 'alice', password: 'password', grant_type: 'password' })
  t.equal(json.status, 422)
  t.same(await json.json(), { error: 'Unknown field: "grant_type"' })
  const form = await postForm(auth.url, { username: 'alice', password: 'password', remember: 'yes', scope: 'all' })
  t.equal(form.status, 422)
  t.same(await form.json(), { error: 'Unknown fields: "remember", "scope"' })
  const blankFirst = await postJson(auth.url, { username: '', password: 'password', extra: 1 })
  t.same(await blankFirst.json(), { error: 'Username is blank' }, 'a blank field is named first')
})

t.test('when the user is unknown or the password wrong, then the same 401 with one generic message', async (t) => {
  const unknown = await postForm(auth.url, { username: 'mallory', password: 'password' })
  const wrong = await postForm(auth.url, { username: 'alice', password: 'not-her-password' })
  for (const response of [unknown, wrong]) {
    t.equal(response.status, 401)
    t.equal(response.headers.get('www-authenticate'), 'Bearer')
    t.same(await response.json(), { error: 'Invalid username or password' })
  }
  const caseMatters = await postJson(auth.url, { username: 'Alice', password: 'password' })
  t.equal(caseMatters.status, 401)
})

t.test('when the content type is neither JSON nor a form, then 415', async (t) => {
  const plain = await fetch(`${auth.url}/token`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'username=alice' })
  t.equal(plain.status, 415)
  t.match(await plain.json(), { error: /Content-Type must be/ })
  const none = await fetch(`${auth.url}/token`, { method: 'POST' })
  t.equal(none.status, 415)
})

t.test('when the JSON body is malformed or not an object, then 400', async (t) => {
  const malformed = await fetch(`${auth.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":' })
  t.equal(malformed.status, 400)
  t.same(await malformed.json(), { error: 'Malformed JSON body' })
  const array = await postJson(auth.url, [{ username: 'alice', password: 'password' }])
  t.equal(array.status, 400)
})

t.test('when a route or method does not exist, then a JSON 404', async (t) => {
  const response = await fetch(`${auth.url}/token`)
  t.equal(response.status, 404)
  t.same(await response.json(), { error: 'Not found' })
})

t.test('when the client sends X-Request-Id, then it is echoed and logged', async (t) => {
  const response = await postForm(auth.url, { username: 'bob', password: 'password' }, { 'x-request-id': 'req-abc-123' })
  t.equal(response.status, 200)
  t.equal(response.headers.get('x-request-id'), 'req-abc-123')
  const lines = auth.lines.filter((line) => line.includes('"req_id":"req-abc-123"'))
  t.ok(lines.some((line) => line.includes('"msg":"token issued"') && line.includes('"user_id":2')))
  t.ok(lines.some((line) => line.includes('"msg":"request"') && line.includes('"status":200')))
  const generated = await postForm(auth.url, { username: 'bob', password: 'password' })
  t.match(generated.headers.get('x-request-id'), /^[0-9a-f-]{36}$/)
})

t.test('when logins succeed and fail, then the logs contain neither passwords, tokens nor the JWT secret', async (t) => {
  const secretPassword = 'Zebra-Quartz-Password-93'
  const ok = await postJson(auth.url, { username: 'alice', password: 'password' })
  const { token } = (await ok.json()) as { token: string }
  await postJson(auth.url, { username: 'alice', password: secretPassword })
  await postForm(auth.url, { username: 'nobody', password: secretPassword })
  await postJson(auth.url, { username: secretPassword, password: secretPassword })
  await postJson(auth.url, { username: 'alice', password: [secretPassword] })
  const log = auth.lines.join('')
  t.ok(auth.lines.length > 5, 'something was logged')
  t.notMatch(log, secretPassword)
  t.notMatch(log, '"password"')
  t.notMatch(log, token)
  t.notMatch(log, JWT_SECRET)
})
