import t from 'tap'
import { hashPassword, verifyPassword } from '../../../services/auth-api/passwords.ts'
import { developmentUsers, seedUsers } from '../../../services/auth-api/seed.ts'
import { readUser } from '../../../services/auth-api/users.ts'
import { startRedis } from '../../helpers/redis-server.ts'
import { countingHasher } from './auth-server.ts'
import { runEntry } from '../../helpers/run-entry.ts'

t.test('when seeding an empty Redis, then alice, bob, charlie and the smoke test\'s user are created with hashed passwords', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  t.same(await seedUsers(redis.client, developmentUsers), [
    { username: 'alice', id: 1, result: 'created' },
    { username: 'bob', id: 2, result: 'created' },
    { username: 'charlie', id: 3, result: 'created' },
    { username: 'smoke-test', id: 4, result: 'created' },
  ])
  const alice = await redis.client.hgetall('user:alice')
  t.match(alice, { id: '1', username: 'alice', can_transact: 'true', password_hash: /^scrypt\$32768\$8\$1\$/ })
  t.equal(await verifyPassword('password', alice.password_hash ?? ''), true)
  t.match(await readUser(redis.client, 'charlie'), { id: 3, can_transact: false })
  t.same(await redis.client.hgetall('users:by-id'), { 1: 'alice', 2: 'bob', 3: 'charlie', 4: 'smoke-test' })
})

t.test('when seeding again, then every user is ok and nothing is rehashed or rewritten', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  await seedUsers(redis.client, developmentUsers)
  const before = await redis.client.hgetall('user:alice')
  const { hasher, calls } = countingHasher()
  const results = await seedUsers(redis.client, developmentUsers, hasher)
  t.same(results.map((r) => r.result), ['ok', 'ok', 'ok', 'ok'])
  t.equal(calls.hashed.length, 0, 'no new hash')
  t.same(await redis.client.hgetall('user:alice'), before)
})

t.test('when a field was changed, then the user is updated and keeps its hash', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  await seedUsers(redis.client, developmentUsers)
  const hash = await redis.client.hget('user:charlie', 'password_hash')
  await redis.client.hset('user:charlie', 'can_transact', 'true')
  const { hasher, calls } = countingHasher()
  const results = await seedUsers(redis.client, developmentUsers, hasher)
  t.same(results.map((r) => r.result), ['ok', 'ok', 'updated', 'ok'])
  t.equal(calls.hashed.length, 0)
  t.same(await redis.client.hmget('user:charlie', 'can_transact', 'password_hash'), ['false', hash])
})

t.test('when a password was changed, then the seed password is restored with a new hash', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  await seedUsers(redis.client, developmentUsers)
  await redis.client.hset('user:bob', 'password_hash', await hashPassword('something else'))
  const results = await seedUsers(redis.client, developmentUsers)
  t.same(results.map((r) => r.result), ['ok', 'updated', 'ok', 'ok'])
  t.equal(await verifyPassword('password', (await redis.client.hget('user:bob', 'password_hash')) ?? ''), true)
})

t.test('when an id changed or the index lost an entry, then both are corrected', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  await seedUsers(redis.client, developmentUsers)
  await redis.client.hset('user:alice', 'id', '9')
  await redis.client.hset('users:by-id', '9', 'alice')
  await redis.client.hdel('users:by-id', '1', '2')
  const results = await seedUsers(redis.client, developmentUsers)
  t.same(results.map((r) => r.result), ['updated', 'updated', 'ok', 'ok'])
  t.same(await redis.client.hgetall('users:by-id'), { 1: 'alice', 2: 'bob', 3: 'charlie', 4: 'smoke-test' })
  t.equal(await redis.client.hget('user:alice', 'id'), '1')
})

const runSeedScript = (env: Record<string, string>) => runEntry('services/auth-api/seed-users.ts', env)

t.test('when the seed command runs twice, then it creates the users, then reports them ok, exiting 0', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const first = await runSeedScript({ REDIS_URL: redis.urlOf('auth') })
  t.equal(first.code, 0, first.stderr)
  t.equal(first.stdout, 'alice (id 1): created\nbob (id 2): created\ncharlie (id 3): created\nsmoke-test (id 4): created\n')
  const second = await runSeedScript({ REDIS_URL: redis.urlOf('auth') })
  t.equal(second.code, 0, second.stderr)
  t.equal(second.stdout, 'alice (id 1): ok\nbob (id 2): ok\ncharlie (id 3): ok\nsmoke-test (id 4): ok\n')
  t.notMatch(first.stdout + first.stderr + second.stdout + second.stderr, redis.password, 'the Redis password is not printed')
})

t.test('when the seed command cannot use Redis or REDIS_URL is bad, then it exits 1 saying why', async (t) => {
  const down = await runSeedScript({ REDIS_URL: 'redis://:secret-pw@127.0.0.1:1/0' })
  t.equal(down.code, 1)
  t.match(down.stderr, /Seeding users failed: cannot reach Redis at 127\.0\.0\.1:1/)
  t.notMatch(down.stderr, 'secret-pw')
  const bad = await runSeedScript({ REDIS_URL: 'localhost:6379' })
  t.equal(bad.code, 1)
  t.match(bad.stderr, /REDIS_URL is invalid/)
})
