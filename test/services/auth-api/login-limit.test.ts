// Failed logins limited per username and per client address, in the Auth API itself (not only in
// nginx): a local process that reaches the service's port directly is limited too.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { developmentUsers, seedUsers } from '../../../services/auth-api/seed.ts'
import { startRedis } from '../../helpers/redis-server.ts'
import { postJson, startAuth, testConfig } from './auth-server.ts'

// Long enough for 8 failed logins (a full scrypt each, several times slower on a busy machine) to land
// in one window.
const WINDOW_S = 10

const redis = await startRedis()
t.teardown(() => redis.stop())
await seedUsers(redis.client, developmentUsers)
const auth = await startAuth(testConfig(redis.urlOf('auth'), { LOGIN_FAILURES_PER_USER: 5, LOGIN_FAILURES_PER_ADDRESS: 8, LOGIN_FAILURE_WINDOW_SECONDS: WINDOW_S }))
t.teardown(() => auth.stop())

// The address as nginx passes it (express trusts X-Forwarded-For from loopback, where nginx is).
const from = (address: string) => ({ 'x-forwarded-for': address })
const login = (username: string, password: string, address = '203.0.113.1') => postJson(auth.url, { username, password }, from(address))

t.test('when one username gets more failed logins than allowed, from many addresses, then 429 with Retry-After, for its right password too, and for nobody else', async (t) => {
  for (let i = 0; i < 5; i++) {
    const res = await login('bob', `wrong-${i}`, `198.51.100.${i}`)
    t.equal(res.status, 401, `failure ${i + 1}: 401`)
    await res.arrayBuffer()
  }
  const limited = await login('bob', 'wrong-again', '198.51.100.99')
  t.equal(limited.status, 429, 'the next guess: 429')
  t.same(await limited.json(), { error: 'Too many failed logins, try again later' })
  t.ok(Number(limited.headers.get('retry-after')) >= 1 && Number(limited.headers.get('retry-after')) <= WINDOW_S, 'Retry-After: the seconds left in the window')
  const right = await login('bob', 'password', '198.51.100.100')
  t.equal(right.status, 429, 'the right password is refused too while limited (else the 429 would reveal it)')
  await right.arrayBuffer()

  const started = performance.now()
  const other = await login('alice', 'password', '198.51.100.1')
  t.equal(other.status, 200, 'alice, from an address that failed for bob, logs in')
  await other.arrayBuffer()
  t.ok(performance.now() - started < 2000, 'and is not slowed')

  await sleep(WINDOW_S * 1000 + 100)
  const later = await login('bob', 'password', '198.51.100.101')
  t.equal(later.status, 200, 'after the window bob logs in: a limit, not a lock-out')
  await later.arrayBuffer()
})

t.test('when one address fails for many usernames (known or not), then 429 for that address only', async (t) => {
  const address = '192.0.2.7'
  for (let i = 0; i < 8; i++) {
    const res = await login(i % 2 === 0 ? `nobody-${i}` : 'charlie', `wrong-${i}`, address)
    t.equal(res.status, 401)
    await res.arrayBuffer()
  }
  const limited = await login('alice', 'password', address)
  t.equal(limited.status, 429, 'the address is refused, even with a right password')
  t.ok(Number(limited.headers.get('retry-after')) >= 1)
  await limited.arrayBuffer()
  const elsewhere = await login('alice', 'password', '192.0.2.8')
  t.equal(elsewhere.status, 200, 'alice from another address logs in')
  await elsewhere.arrayBuffer()
})

t.test('when a login is limited, then it is answered without a password check, for known and unknown users alike', async (t) => {
  const address = '192.0.2.50'
  // What a failed login costs here and now (a full scrypt): the limited ones must take far less.
  let checked = Infinity
  for (let i = 0; i < 8; i++) {
    const started = performance.now()
    await (await login(`nobody-${i}`, 'x', address)).arrayBuffer()
    checked = Math.min(checked, performance.now() - started)
  }
  for (const username of ['alice', 'nobody-at-all']) {
    const started = performance.now()
    const res = await login(username, 'wrong', address)
    t.equal(res.status, 429, `${username}: 429`)
    await res.arrayBuffer()
    const took = performance.now() - started
    t.ok(took < checked / 2, `${username}: answered in ${took.toFixed(1)} ms, under half the quickest checked login (${checked.toFixed(1)} ms): no scrypt`)
  }
})

t.test('when Redis is full, then logins still work (failures are simply not counted)', async (t) => {
  await redis.client.config('SET', 'maxmemory', '1')
  t.teardown(() => redis.client.config('SET', 'maxmemory', '0'))
  const wrong = await login('bob', 'wrong', '192.0.2.60')
  t.equal(wrong.status, 401, 'a wrong password: 401, not 503')
  await wrong.arrayBuffer()
  const right = await login('bob', 'password', '192.0.2.60')
  t.equal(right.status, 200)
  await right.arrayBuffer()
  t.ok(auth.lines.some((line) => line.includes('failed login not counted')), 'the uncounted failure is logged')
})
