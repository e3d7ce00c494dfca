import t from 'tap'
import { createVerifiedCredentials } from '../../../services/auth-api/credentials-cache.ts'
import { hashPassword, parsePasswordHash } from '../../../services/auth-api/passwords.ts'
import { developmentUsers, seedUsers } from '../../../services/auth-api/seed.ts'
import { startRedis } from '../../helpers/redis-server.ts'
import { countingHasher, postForm, postJson, startAuth, testConfig } from './auth-server.ts'

// Deterministic checks of what each login pays, through a hasher that records every verification.
const redis = await startRedis()
t.teardown(() => redis.stop())
await seedUsers(redis.client, developmentUsers)
const aliceHash = async (): Promise<string> => (await redis.client.hget('user:alice', 'password_hash')) ?? ''

async function startCounted(t: { teardown(fn: () => unknown): void }) {
  const counted = countingHasher()
  const auth = await startAuth(testConfig(redis.urlOf('auth')), { hasher: counted.hasher })
  t.teardown(() => auth.stop())
  return { auth, calls: counted.calls, dummyHash: counted.calls.hashed[0] ?? '' }
}

t.test('when the service starts, then it makes one dummy hash with the current parameters', async (t) => {
  const { calls, dummyHash } = await startCounted(t)
  t.equal(calls.hashed.length, 1)
  t.match(parsePasswordHash(dummyHash), { N: 32768, r: 8, p: 1 })
  t.same(parsePasswordHash(dummyHash)?.hash.length, parsePasswordHash(await aliceHash())?.hash.length)
})

t.test('when the user is unknown or the password is wrong, then both pay exactly one full scrypt', async (t) => {
  const { auth, calls, dummyHash } = await startCounted(t)
  const unknown = await postForm(auth.url, { username: 'mallory', password: 'password' })
  t.equal(unknown.status, 401)
  t.same(calls.verifiedAgainst, [dummyHash], 'the unknown user is checked against the dummy hash')

  calls.verifiedAgainst.length = 0
  const wrong = await postForm(auth.url, { username: 'alice', password: 'guess' })
  t.equal(wrong.status, 401)
  t.same(calls.verifiedAgainst, [await aliceHash()], 'the wrong password is checked against alice’s hash')
  t.same(await unknown.json(), await wrong.json())
})

t.test('when alice logs in twice, then the second login is served from the cache', async (t) => {
  const { auth, calls } = await startCounted(t)
  t.equal((await postForm(auth.url, { username: 'alice', password: 'password' })).status, 200)
  t.equal(calls.verifiedAgainst.length, 1)
  for (let i = 0; i < 5; i++) t.equal((await postJson(auth.url, { username: 'alice', password: 'password' })).status, 200)
  t.equal(calls.verifiedAgainst.length, 1, 'no further scrypt')
})

t.test('when a wrong password follows a cached login, then it still pays scrypt every time and is never cached', async (t) => {
  const { auth, calls } = await startCounted(t)
  await postForm(auth.url, { username: 'alice', password: 'password' })
  for (let i = 1; i <= 3; i++) {
    t.equal((await postForm(auth.url, { username: 'alice', password: 'wrong' })).status, 401)
    t.equal(calls.verifiedAgainst.length, 1 + i)
  }
  t.equal((await postForm(auth.url, { username: 'alice', password: 'password' })).status, 200)
  t.equal(calls.verifiedAgainst.length, 4, 'the right password is still cached')
  for (let i = 1; i <= 2; i++) await postForm(auth.url, { username: 'mallory', password: 'password' })
  t.equal(calls.verifiedAgainst.length, 6, 'unknown users are never cached')
})

t.test('when the stored hash changes, then the cached login no longer counts', async (t) => {
  const { auth, calls } = await startCounted(t)
  await postForm(auth.url, { username: 'bob', password: 'password' })
  t.equal(calls.verifiedAgainst.length, 1)
  // Same password, new salt (as a re-seed with new parameters would write): verified again, then cached again.
  await redis.client.hset('user:bob', 'password_hash', await hashPassword('password'))
  t.equal((await postForm(auth.url, { username: 'bob', password: 'password' })).status, 200)
  t.equal(calls.verifiedAgainst.length, 2)
  // A password reset: the old password is refused at once, paying scrypt.
  await redis.client.hset('user:bob', 'password_hash', await hashPassword('new secret'))
  t.equal((await postForm(auth.url, { username: 'bob', password: 'password' })).status, 401)
  t.equal(calls.verifiedAgainst.length, 3)
  t.equal((await postForm(auth.url, { username: 'bob', password: 'new secret' })).status, 200)
  await seedUsers(redis.client, developmentUsers)
})

t.test('when the cache entry has expired, then scrypt runs again', async (t) => {
  let now = 0
  const counted = countingHasher()
  const auth = await startAuth(testConfig(redis.urlOf('auth')), { hasher: counted.hasher, verified: createVerifiedCredentials({ now: () => now }) })
  t.teardown(() => auth.stop())
  await postForm(auth.url, { username: 'alice', password: 'password' })
  now += 59_000
  await postForm(auth.url, { username: 'alice', password: 'password' })
  t.equal(counted.calls.verifiedAgainst.length, 1)
  now += 1_000
  await postForm(auth.url, { username: 'alice', password: 'password' })
  t.equal(counted.calls.verifiedAgainst.length, 2)
})

t.test('when a stored hash is unreadable, then 401 after a full scrypt against the dummy, and a warning', async (t) => {
  const { auth, calls, dummyHash } = await startCounted(t)
  await redis.client.hset('user:eve', { id: '4', username: 'eve', password_hash: 'md5:5f4dcc3b5aa765d61d8327deb882cf99', can_transact: 'true' })
  t.teardown(() => redis.client.del('user:eve'))
  const response = await postForm(auth.url, { username: 'eve', password: 'password' })
  t.equal(response.status, 401)
  t.same(calls.verifiedAgainst, [dummyHash])
  t.ok(auth.lines.some((line) => line.includes('stored password hash is unreadable') && line.includes('"user_id":4')))
})

t.test('when identical logins arrive together, then they share one scrypt; different attempts do not', async (t) => {
  const { auth, calls, dummyHash } = await startCounted(t)
  const burst = await Promise.all(Array.from({ length: 6 }, () => postForm(auth.url, { username: 'alice', password: 'password' })))
  for (const response of burst) t.equal(response.status, 200)
  t.equal(calls.verifiedAgainst.length, 1, 'one scrypt for the burst (the rest joined it or hit the cache)')

  calls.verifiedAgainst.length = 0
  const guesses = await Promise.all(['guess-1', 'guess-2', 'guess-3'].map((password) => postForm(auth.url, { username: 'bob', password })))
  for (const response of guesses) t.equal(response.status, 401)
  t.equal(calls.verifiedAgainst.length, 3, 'each distinct wrong password pays its own scrypt')

  calls.verifiedAgainst.length = 0
  const unknown = await Promise.all(['x', 'y'].map((password) => postForm(auth.url, { username: 'mallory', password })))
  for (const response of unknown) t.equal(response.status, 401)
  t.same(calls.verifiedAgainst, [dummyHash, dummyHash])
})
