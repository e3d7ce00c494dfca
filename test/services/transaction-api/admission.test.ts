// Admission control against a real Redis: the Transaction API refuses new transactions (503 "Queue full")
// while the backlog is at QUEUE_MAX_BACKLOG or Redis's memory is above REDIS_MEMORY_HIGH_WATER_PERCENT,
// says so in /health, and takes them again by itself once there is room.
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import t from 'tap'
import { BACKLOG_SHARE_OF_MAXMEMORY, derivedBacklogBound, QUEUED_TRANSACTION_BYTES, UNLIMITED_REDIS_BACKLOG } from '../../../services/transaction-api/admission.ts'
import { alice, json, postTransaction, startApi, tokenFor } from './harness.ts'

const inactive = 'q:jobs:transaction:inactive'

/**
 * 4 MB of data, so that the room between the mark and maxmemory is far larger than what clients' buffers
 * move usage by; in small values, since a large one leaves a query buffer its size for a while.
 */
async function addBallast(redis: Redis): Promise<void> {
  for (let i = 0; i < 64; i++) await redis.set(`ballast:${i}`, 'x'.repeat(64 * 1024))
}
const dropBallast = (redis: Redis) => redis.del(...Array.from({ length: 64 }, (_, i) => `ballast:${i}`))
const usedMemory = async (redis: Redis): Promise<number> => Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1])
const post = (api: Parameters<typeof postTransaction>[0], key?: string) =>
  postTransaction(api, { token: tokenFor(alice), amount: 2000, currency: 'GBP' }, key === undefined ? {} : { headers: { 'idempotency-key': key } })

t.test('when QUEUE_MAX_BACKLOG is unset, then the bound is the queued transactions that fill half of maxmemory', async (t) => {
  const mb256 = 256 * 1024 * 1024
  t.equal(derivedBacklogBound(mb256), Math.floor((mb256 * BACKLOG_SHARE_OF_MAXMEMORY) / QUEUED_TRANSACTION_BYTES))
  t.ok(derivedBacklogBound(mb256) > 50_000 && derivedBacklogBound(mb256) < 100_000, `${derivedBacklogBound(mb256)} for 256 MB`)
  t.equal(derivedBacklogBound(0), UNLIMITED_REDIS_BACKLOG, 'a fixed bound without maxmemory')
  t.equal(derivedBacklogBound(1000), 1, 'never 0')
})

t.test('when the backlog reaches QUEUE_MAX_BACKLOG, then new transactions get 503 "Queue full" and nothing is written, until the backlog drops', async (t) => {
  const api = await startApi(t, { QUEUE_MAX_BACKLOG: 3 })
  const redis = api.redis.client
  const first = await post(api, 'first')
  t.equal(first.status, 202)
  for (let i = 0; i < 2; i++) t.equal((await post(api)).status, 202)
  const ids = await redis.get('q:ids')
  const records = (await redis.keys('transaction:*')).length

  const refused = await post(api, 'refused')
  t.equal(refused.status, 503)
  t.equal(refused.headers.get('retry-after'), '2')
  t.same(await json(refused), { error: 'Queue full: 3 transactions are waiting to be processed (the most the platform queues is 3); retry later' })
  t.equal(await redis.get('q:ids'), ids, 'no job was written')
  t.equal((await redis.keys('transaction:*')).length, records, 'no record was written')
  t.equal(await redis.get('idempotency:1:refused'), null, 'its key was not taken: a retry can still succeed')

  const replay = await post(api, 'first')
  t.equal(replay.status, 202, 'a retry of an accepted transaction is still answered')
  t.equal(replay.headers.get('idempotent-replayed'), 'true')

  const health = await fetch(`${api.url}/health`)
  t.equal(health.status, 200, 'the API is healthy while it sheds load')
  t.match(await json(health), { healthy: true, accepting: false, shedding: /^Queue full: 3 transactions/, queue: { backlog: 3, max_backlog: 3 } })

  // A worker takes one job off the queue.
  await redis.zpopmin(inactive)
  const again = await post(api, 'refused')
  t.equal(again.status, 202, 'accepted again once the backlog is under the bound, with no step by anyone')
  t.match(await json(await fetch(`${api.url}/health`)), { accepting: false, queue: { backlog: 3 } }, 'and full again')
})

t.test('when Redis memory is above the high-water mark, then new transactions get 503 "Queue full", and are taken again once it is below', async (t) => {
  const api = await startApi(t, { REDIS_MEMORY_HIGH_WATER_PERCENT: 70 })
  const redis = api.redis.client
  await addBallast(redis)
  const health = async (): Promise<Record<string, unknown>> => json(await fetch(`${api.url}/health`))
  t.match(await health(), { accepting: true, redis_memory: { max: 0, high_water: 0 } }, 'no maxmemory: never above the mark')

  await redis.config('SET', 'maxmemory', String(Math.floor((await usedMemory(redis)) / 0.8)))
  const shedding = await health()
  t.match(shedding, { healthy: true, accepting: false, shedding: /high-water mark \(70 % of maxmemory\)/ })
  const memory = shedding.redis_memory as { used: number; max: number; high_water: number }
  t.ok(memory.used >= memory.high_water && memory.used < memory.max, `used ${memory.used} between the mark ${memory.high_water} and the limit ${memory.max}`)

  const ids = await redis.get('q:ids')
  const refused = await post(api)
  t.equal(refused.status, 503)
  t.equal(refused.headers.get('retry-after'), '2')
  t.match(await json(refused), { error: /^Queue full: Redis memory is above its high-water mark/ })
  t.equal(await redis.get('q:ids'), ids, 'nothing was written')

  await dropBallast(redis)
  t.match(await health(), { accepting: true })
  t.equal((await post(api)).status, 202, 'accepted again once memory is below the mark')
})

t.test('when the memory reading is older than the gauge trusts, then the backlog bound alone decides and the next request reads again', async (t) => {
  const api = await startApi(t, { REDIS_MEMORY_HIGH_WATER_PERCENT: 70 })
  const redis = api.redis.client
  await addBallast(redis)
  t.equal((await post(api)).status, 202, 'a first reading, below the mark')
  await redis.config('SET', 'maxmemory', String(Math.floor((await usedMemory(redis)) / 0.8)))
  // Past the reading's trusted age: the request goes on without waiting for INFO and starts a new reading.
  await sleep(2100)
  const statuses: number[] = []
  for (let i = 0; i < 20 && statuses.at(-1) !== 503; i++) {
    statuses.push((await post(api)).status)
    await sleep(50)
  }
  t.equal(statuses.at(-1), 503, `refused once the new reading is in (${statuses.join(', ')})`)
})
