// Fault 7: a soak. A small Redis (4 MB) and a short retention (1 s), the workers running and keeping up
// (200 transactions/s), until the transactions' records would need 4 times the room that Redis has if they
// were kept for good: memory stays bounded (finished records expire and the Loyalty Worker drops their
// ids), the Transaction API never refuses a transaction once the load is steady, and nothing is lost.
// The client sends no Idempotency-Keys: they keep their own TTL (a day by default, 221 bytes each) and
// would measure that instead.
//
//   npm run build && npx tap --disable-coverage test/faults/retention.fault.ts
import t from 'tap'
import { startPlatform } from '../helpers/platform-stack.ts'
import { keys } from '../../services/shared/keys.ts'
import { ackCount, report, seconds, settle, showUsers, startLoad, tally } from './load.ts'

const USERS = [1, 2, 3, 4, 5, 6]
const MAXMEMORY = 4 * 1024 * 1024
/** Bytes a completed transaction keeps, its record and list entry (backlog.fault.ts measures 770-970). */
const COMPLETED_RECORD_BYTES = 700
const HIGH_WATER = 0.9
const RATE_PER_S = 200
/** The first seconds of load are the ramp-up; "steady" starts after them. */
const RAMP_UP_MS = 5000
/** The load goes on until its records would need this many times the room Redis has, or this long at most. */
const TIMES_THE_ROOM = 4
const LOAD_BOUND_MS = 150_000

await t.test('when transactions keep coming for far longer than Redis could keep their records, then memory stays bounded, none is refused once steady, and none is lost', async (t) => {
  const stack = await startPlatform({ redisArgs: ['--maxmemory', String(MAXMEMORY)], settings: { TRANSACTION_RETENTION: '1s' } })
  t.teardown(() => stack.stop())
  const redis = stack.redis.client
  await redis.config('RESETSTAT')
  const base = Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1])

  const load = startLoad(stack, { users: USERS, count: 100_000, concurrency: 16, perSecond: RATE_PER_S, retry: false, idempotencyKeys: false })
  const samples: { used: number; records: number }[] = []
  const until = performance.now() + LOAD_BOUND_MS
  const enough = (TIMES_THE_ROOM * (MAXMEMORY * HIGH_WATER - base)) / COMPLETED_RECORD_BYTES
  // On a busy machine the rate is lower: the load runs longer rather than prove less.
  while (performance.now() < until && ackCount(load.ledger) < enough && load.ledger.sent < 100_000) {
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const used = Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1])
    samples.push({ used, records: await redis.llen(keys.finishedTransactions) })
  }
  load.stop()
  const ledger = await load.done
  const done = performance.now()
  const settlement = await settle(stack, ledger, { since: done, timeoutMs: 60_000, recordsExpire: true })
  const acked = ackCount(ledger)
  const steady = ledger.attempts.filter((a) => a.started - ledger.t0 > RAMP_UP_MS)
  const peak = Math.max(...samples.map((s) => s.used))
  // Records kept for good would have to fit between what Redis used before the load and the mark.
  const timesWhatRedisHolds = (acked * COMPLETED_RECORD_BYTES) / (MAXMEMORY * HIGH_WATER - base)
  const oom = /count=(\d+)/.exec(/^errorstat_OOM:(.*)$/m.exec(await redis.info('errorstats'))?.[1] ?? '')?.[1] ?? '0'

  await report(t, 'retention-soak', {
    maxmemory_mb: MAXMEMORY / 1024 / 1024,
    retention: '1s',
    base_used_mb: Math.round((base / 1024 / 1024) * 100) / 100,
    load_s: seconds(done - ledger.t0),
    acknowledged: acked,
    per_s: Math.round(acked / ((done - ledger.t0) / 1000)),
    times_what_redis_holds: Math.round(timesWhatRedisHolds * 10) / 10,
    peak_used_mb: Math.round((peak / 1024 / 1024) * 100) / 100,
    peak_of_maxmemory_pct: Math.round((peak / MAXMEMORY) * 100),
    most_listed_records: Math.max(...samples.map((s) => s.records)),
    steady_503: steady.filter((a) => a.status === 503).length,
    redis_oom_refusals: Number(oom),
    processed: settlement.processed,
    lost: settlement.lost,
    awarded_twice: settlement.awardedTwice,
  })
  t.comment(`load: ${tally(ledger.attempts)}`)

  t.ok(timesWhatRedisHolds > 3, `${acked} transactions: their records kept for good would need ${timesWhatRedisHolds.toFixed(1)} times the room Redis had`)
  t.ok(peak < MAXMEMORY * HIGH_WATER, `memory stayed under the high-water mark (peak ${peak} of ${MAXMEMORY})`)
  t.same(
    steady.filter((a) => a.status !== 202),
    [],
    'every transaction once the load was steady was answered 202',
  )
  t.equal(Number(oom), 0, 'Redis refused no write')
  t.ok(settlement.settled, `everything was processed (${JSON.stringify(settlement.state)})`)
  t.equal(settlement.lost, 0, 'nothing acknowledged lost', { users: showUsers(settlement) })
  t.equal(settlement.awardedTwice, 0, 'nothing awarded twice', { users: showUsers(settlement) })
})
