import t from 'tap'
import { developmentUsers, seedUsers } from '../../../services/auth-api/seed.ts'
import { holdFull, startRedis } from '../../helpers/redis-server.ts'
import { countingHasher, postForm, postJson, startAuth, testConfig, until } from './auth-server.ts'

t.test('when Redis answers, then /health is 200 {"healthy": true}', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const auth = await startAuth(testConfig(redis.urlOf('auth')))
  t.teardown(() => auth.stop())
  const response = await fetch(`${auth.url}/health`)
  t.equal(response.status, 200)
  t.same(await response.json(), { healthy: true })
})

t.test('when Redis is down, then /health and /token answer 503 quickly, and recover when it is back', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  await seedUsers(redis.client, developmentUsers)
  const auth = await startAuth(testConfig(redis.urlOf('auth')))
  t.teardown(() => auth.stop())
  t.equal((await postForm(auth.url, { username: 'alice', password: 'password' })).status, 200)

  await redis.kill()
  const started = Date.now()
  const health = await fetch(`${auth.url}/health`)
  t.equal(health.status, 503)
  t.same(await health.json(), { healthy: false, failing: ['redis'] })
  const token = await postJson(auth.url, { username: 'alice', password: 'password' })
  t.equal(token.status, 503)
  t.equal(token.headers.get('retry-after'), '1')
  t.same(await token.json(), { error: 'Service temporarily unavailable, try again shortly' })
  t.ok(Date.now() - started < 1500, `answered in ${Date.now() - started} ms`)
  t.notOk(auth.lines.some((line) => line.includes('"status":500')), 'never a 500')

  await redis.start()
  const deadline = Date.now() + 5000
  let status = 0
  while (Date.now() < deadline && status !== 200) {
    status = (await fetch(`${auth.url}/health`)).status
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.equal(status, 200, 'healthy again')
  t.equal((await postForm(auth.url, { username: 'alice', password: 'password' })).status, 200)
})

t.test('when Redis is full, then /health is 503 (writes would be refused), and 200 again once it has room', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const auth = await startAuth(testConfig(redis.urlOf('auth')))
  t.teardown(() => auth.stop())
  t.equal((await fetch(`${auth.url}/health`)).status, 200, 'healthy with room')
  await holdFull(redis.client)
  const full = await fetch(`${auth.url}/health`)
  t.equal(full.status, 503, 'full')
  t.same(await full.json(), { healthy: false, failing: ['redis'] })
  await redis.client.config('SET', 'maxmemory', '0')
  t.equal((await fetch(`${auth.url}/health`)).status, 200, 'healthy again')
})

t.test('when several logins are being hashed, then /health still answers before they finish', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  await seedUsers(redis.client, developmentUsers)
  const { hasher, calls } = countingHasher()
  const auth = await startAuth(testConfig(redis.urlOf('auth')), { hasher })
  t.teardown(() => auth.stop())

  // Wrong passwords: each one pays a real scrypt (~100 ms of CPU on the thread pool).
  const logins = ['alice', 'bob', 'charlie', 'nobody'].map((username) => postForm(auth.url, { username, password: 'wrong' }))
  await until(() => calls.inFlight === 4)
  const health = await fetch(`${auth.url}/health`)
  const stillHashing = calls.inFlight
  t.equal(health.status, 200)
  t.ok(stillHashing > 0, `/health answered while ${stillHashing} of 4 hashes were still running`)
  for (const response of await Promise.all(logins)) t.equal(response.status, 401)
})

t.test('when stopped, then an in-flight login still finishes, and then nothing listens', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  await seedUsers(redis.client, developmentUsers)
  const { hasher, calls } = countingHasher()
  const auth = await startAuth(testConfig(redis.urlOf('auth')), { hasher })
  let stopped = false
  t.teardown(() => (stopped ? undefined : auth.stop()))

  const login = postForm(auth.url, { username: 'alice', password: 'password' })
  await until(() => calls.inFlight === 1)
  const stopping = auth.stop().then(() => (stopped = true))
  const response = await login
  t.equal(response.status, 200)
  t.match(await response.json(), { token: /^ey/ })
  await stopping
  t.ok(stopped)
  await t.rejects(fetch(`${auth.url}/health`), 'the port is closed')
  const clients = await redis.client.client('LIST')
  t.notMatch(String(clients), 'name=auth-api', 'the Redis connection is closed')
})
