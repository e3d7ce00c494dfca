// Fault 5: Redis runs out of memory (maxmemory reached, noeviction, as provisioned) under load. Writes
// fail with OOM: the Transaction API must answer 503 (never a 2xx for a transaction it could not
// store, never a 500), reads keep working, and once memory is freed everything recovers by itself and
// every acknowledged transaction is processed exactly once.
//
//   npm run build && npx tap --disable-coverage test/faults/redis-full.fault.ts
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import t from 'tap'
import { startPlatform } from '../helpers/platform-stack.ts'
import { holdFull } from '../helpers/redis-server.ts'
import { saveJobWithoutToken, statusesOf, transactionEvent, writeQueuedRecord } from './kue-jobs.ts'
import { ackCount, drained, report, seconds, settle, showUsers, startLoad, startProbes, stuckJobs, tally } from './load.ts'

const USERS = [1, 2, 3]
const MAXMEMORY = '32mb'
const FULL_MS = 5000
const API_RECOVERY_BOUND_MS = 5000
const RECOVERY_BOUND_MS = 45_000
/** kue's stuck-job watchdog runs every 5 s (services/shared/queue/consumer.ts). */
const WATCHDOG_BOUND_MS = 15_000
const JUNK = 'x'.repeat(256 * 1024)

/** Writes 256 kB junk values until Redis refuses one (OOM) or 1,000 are in. */
async function fillWithJunk(redis: Redis): Promise<{ junkKeys: number; refusal: string }> {
  for (let junkKeys = 0; junkKeys < 1000; junkKeys++) {
    try {
      await redis.set(`junk:${junkKeys}`, JUNK)
    } catch (err) {
      return { junkKeys, refusal: err instanceof Error ? err.message : String(err) }
    }
  }
  return { junkKeys: 1000, refusal: '' }
}

/** Frees the junk and gives Redis its limit back. */
async function freeJunk(redis: Redis, junkKeys: number): Promise<void> {
  await redis.del(...Array.from({ length: junkKeys }, (_, i) => `junk:${i}`))
  await redis.config('SET', 'maxmemory', MAXMEMORY)
}

/** Tries a small write every 100 ms for `ms`: how many of them Redis accepted (none while it is full). */
async function writesAcceptedDuring(redis: Redis, ms: number): Promise<{ tried: number; accepted: number }> {
  const until = performance.now() + ms
  let tried = 0
  let accepted = 0
  while (performance.now() < until) {
    tried++
    if (await redis.set('probe', String(tried)).then(() => true, () => false)) accepted++
    await sleep(100)
  }
  return { tried, accepted }
}

await t.test('when Redis is full under load, then the Transaction API answers 503 and never 2xx, and recovers when memory is freed', async (t) => {
  const stack = await startPlatform({ redisArgs: ['--maxmemory', MAXMEMORY] })
  t.teardown(() => stack.stop())
  const redis = stack.redis.client

  const load = startLoad(stack, { users: USERS, count: 1200, concurrency: 8, retry: true, perSecond: 100 })
  const probes = startProbes(stack)
  await sleep(3000)
  const { junkKeys, refusal } = await fillWithJunk(redis)
  await holdFull(redis)
  const full = performance.now()
  const ackedBeforeFull = load.acked()
  const fullProbes = await writesAcceptedDuring(redis, FULL_MS)
  const freeing = performance.now()
  await freeJunk(redis, junkKeys)
  const freed = performance.now()
  const ledger = await load.done
  await probes.stop()
  // While Redis is over its trim mark the workers delete the oldest finished records to free memory
  // (loyalty-worker/retention.ts): the users' stamps are the proof of what was processed.
  const settlement = await settle(stack, ledger, { since: freed, timeoutMs: RECOVERY_BOUND_MS + 15_000, recordsExpire: true })

  const posts = ledger.attempts.filter((a) => a.started >= full && a.ended <= freeing)
  const accepted = posts.filter((a) => typeof a.status === 'number' && a.status >= 200 && a.status < 300)
  const reads = probes.attempts.filter((a) => a.started >= full && a.ended <= freeing)
  const all = [...ledger.attempts, ...probes.attempts]
  const bad = all.filter((a) => a.status === 500 || a.status === 502 || a.status === 504 || typeof a.status === 'string')
  const firstAccepted = Math.min(...ledger.attempts.filter((a) => a.status === 202 && a.started >= freed).map((a) => a.ended))
  const apiRecovery = firstAccepted - freed

  await report(t, 'redis-full', {
    sent: ledger.sent,
    acknowledged: ackCount(ledger),
    acknowledged_before_full: ackedBeforeFull,
    processed: settlement.processed,
    lost: settlement.lost,
    awarded_twice: settlement.awardedTwice,
    maxmemory: MAXMEMORY,
    junk_mb: Math.round((junkKeys * 256) / 1024),
    full_s: seconds(freeing - full),
    posts_while_full: posts.length,
    posts_while_full_2xx: accepted.length,
    posts_while_full_503: posts.filter((a) => a.status === 503).length,
    http_500_502_504_or_none: bad.length,
    api_recovery_s: seconds(apiRecovery),
    recovery_s: seconds(settlement.ms),
  })
  t.comment(`while full: ${tally([...posts, ...reads])}`)
  if (!settlement.settled) t.comment(`not done:\n${await stuckJobs(stack)}`)

  t.match(refusal, /^OOM /, `Redis refused writes once full (${refusal.slice(0, 60)})`)
  t.equal(fullProbes.accepted, 0, `Redis stayed full: none of ${fullProbes.tried} writes tried while full was accepted`)
  t.ok(posts.length >= 20, `transactions were posted while Redis was full (${posts.length})`)
  t.equal(accepted.length, 0, 'none of them was answered 2xx')
  t.same([...new Set(posts.map((a) => a.status))], [503], `every one was answered 503 (${tally(posts)})`)
  t.same(bad, [], 'never a 500, 502, 504 or no answer')
  // A login only reads (200); GET /loyalty/me reads in a MULTI, which a full Redis refuses as a whole (503).
  t.same([...new Set(reads.filter((a) => a.what === 'POST /authentication/token').map((a) => a.status))], [200], 'logins kept working')
  t.ok(reads.every((a) => a.status === 200 || a.status === 503), `reads answered 200 or 503 (${tally(reads)})`)
  t.ok(apiRecovery < API_RECOVERY_BOUND_MS, `the Transaction API accepted again ${seconds(apiRecovery)} s after memory was freed`)
  t.equal(ledger.unacknowledged, 0, 'every transaction was eventually acknowledged (the client retried with its Idempotency-Key)')
  t.ok(settlement.settled, `everything recovered (${JSON.stringify(settlement.state)})`)
  t.ok(settlement.ms < RECOVERY_BOUND_MS, `within ${RECOVERY_BOUND_MS / 1000} s of freeing memory (${seconds(settlement.ms)} s)`)
  for (const [user, tally] of settlement.users) t.equal(tally.earned, tally.acknowledged, `user ${user}: stamps + vouchers × ${stack.stampsPerVoucher} == ${tally.acknowledged}`)
  t.equal(settlement.lost, 0, 'nothing acknowledged lost', { users: showUsers(settlement) })
  t.equal(settlement.awardedTwice, 0, 'nothing awarded twice', { users: showUsers(settlement) })
  t.equal(settlement.state.failed, 0, 'no job failed for good')
})

// kue's own watchdog stops for good at its first failed run, and a full Redis fails the LPUSH of its
// repair: the watchdog must still be running once memory is back.
await t.test('when jobs are stuck without a BLPOP token while Redis is full, then the stuck-job watchdog frees them once memory is back', async (t) => {
  const stack = await startPlatform({ redisArgs: ['--maxmemory', MAXMEMORY] })
  t.teardown(() => stack.stop())
  const redis = stack.redis.client
  const { junkKeys } = await fillWithJunk(redis)
  const state = await stack.queueState()
  t.ok(drained(state) && state.tokens === 0, `precondition: the queue is idle with no spare token (${JSON.stringify(state)})`)
  // Jobs stuck without a token, written in a moment of room, then Redis full again: the watchdog's
  // next runs find them and fail to push their tokens (OOM).
  await redis.config('SET', 'maxmemory', '0')
  const events = Array.from({ length: 20 }, (_, i) => transactionEvent(USERS[i % USERS.length]!))
  for (const event of events) {
    await writeQueuedRecord(redis, event)
    await saveJobWithoutToken(redis, event)
  }
  await holdFull(redis)
  // Every worker process's watchdog runs, and fails, at least twice.
  const whileFull = await writesAcceptedDuring(redis, 12_000)
  await freeJunk(redis, junkKeys)
  const ids = events.map((e) => e.transaction_id)
  const injected = performance.now()
  let statuses: (string | null)[] = []
  while (performance.now() - injected < WATCHDOG_BOUND_MS + 5000) {
    statuses = await statusesOf(redis, ids)
    if (statuses.every((s) => s === 'completed')) break
    await sleep(250)
  }
  const freedMs = performance.now() - injected
  const completed = statuses.filter((s) => s === 'completed').length
  await report(t, 'redis-full-watchdog', { stuck_jobs: ids.length, completed, freed_s: completed === ids.length ? seconds(freedMs) : 'never' })
  t.equal(whileFull.accepted, 0, `Redis stayed full: none of ${whileFull.tried} writes tried while full was accepted`)
  t.equal(completed, ids.length, `all ${ids.length} stuck jobs processed`)
  t.ok(freedMs < WATCHDOG_BOUND_MS, `within ${WATCHDOG_BOUND_MS / 1000} s (${seconds(freedMs)} s)`)
})
