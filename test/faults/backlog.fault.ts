// Fault 6: more transactions than Redis can hold. With the Loyalty Worker stopped, transactions are
// posted as fast as the client can: the Transaction API must start answering 503 "Queue full" before
// Redis refuses a single write (a full Redis would refuse the MULTI kue moves a job to 'active' with, and
// the workers could never drain it: the platform would stay wedged). Then the workers start: the whole
// backlog drains, every acknowledged transaction is awarded exactly once, and new transactions are taken
// again with no step by anyone. Once with the backlog bound (QUEUE_MAX_BACKLOG, derived from maxmemory)
// tripping first, once with the memory high-water mark.
//
//   npm run build && npx tap --disable-coverage test/faults/backlog.fault.ts
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from '../helpers/http-client.ts'
import { type PlatformStack, startPlatform } from '../helpers/platform-stack.ts'
import { ackCount, report, seconds, settle, showUsers, startLoad, tally } from './load.ts'

const USERS = [1, 2, 3, 4]
const DRAIN_BOUND_MS = 120_000
/** A new transaction after the drain: taken within this, by itself. */
const ACCEPT_AGAIN_BOUND_MS = 5000

async function redisInfo(stack: PlatformStack, section: string): Promise<Record<string, string>> {
  const text = await stack.redis.client.info(section)
  return Object.fromEntries(text.split(/\r?\n/).filter((line) => line.includes(':')).map((line) => line.split(':', 2) as [string, string]))
}
const usedMemory = async (stack: PlatformStack): Promise<number> => Number((await redisInfo(stack, 'memory')).used_memory)

interface Scenario {
  name: string
  maxmemory: string
  settings: Record<string, string>
  count: number
  shedMessage: RegExp
}

const scenarios: Scenario[] = [
  // 24 MB holds about 11,000 queued transactions; the derived bound takes half of maxmemory's worth.
  { name: 'backlog bound', maxmemory: '24mb', settings: {}, count: 14_000, shedMessage: /^Queue full: \d+ transactions are waiting/ },
  // No backlog bound to speak of: the memory mark (80 % of 16 MB, about 6,500 queued transactions) must
  // stop the flood.
  {
    name: 'memory high-water mark',
    maxmemory: '16mb',
    settings: { QUEUE_MAX_BACKLOG: '10000000', REDIS_MEMORY_HIGH_WATER_PERCENT: '80' },
    count: 9000,
    shedMessage: /^Queue full: Redis memory is above its high-water mark/,
  },
]

for (const scenario of scenarios) {
  await t.test(`when the workers are stopped and more transactions come than Redis holds (${scenario.name}), then 503 "Queue full" before Redis refuses anything, and all drain once the workers start`, async (t) => {
    const stack = await startPlatform({ redisArgs: ['--maxmemory', scenario.maxmemory], settings: scenario.settings })
    t.teardown(() => stack.stop())
    const maxmemory = Number((await redisInfo(stack, 'memory')).maxmemory)
    const stopped = await stack.pm2(['stop', 'loyalty'])
    t.equal(stopped.code, 0, 'pm2 stop loyalty')
    await stack.redis.client.config('RESETSTAT')
    const before = await usedMemory(stack)

    const load = startLoad(stack, { users: USERS, count: scenario.count, concurrency: 16, retry: false })
    const flood = setTimeout(() => load.stop(), 90_000)
    const ledger = await load.done
    clearTimeout(flood)
    const acked = ackCount(ledger)
    const queuedBytes = (await usedMemory(stack)) - before
    const memory = await redisInfo(stack, 'memory')
    const errors = await redisInfo(stack, 'errorstats')
    const posts = ledger.attempts
    const refused = posts.filter((a) => a.status === 503)
    const firstRefused = Math.min(...refused.map((a) => a.ended))
    const acceptedAfterShedding = posts.filter((a) => a.status === 202 && a.started > firstRefused).length
    const health = (await request(`${stack.url}/transactions/health`)).json as { accepting?: boolean; queue?: { backlog: number; max_backlog: number } }

    const started = performance.now()
    t.equal((await stack.pm2(['start', 'loyalty'])).code, 0, 'pm2 start loyalty')
    // Memory above the trim mark lets the workers delete the oldest finished records: stamps are the proof.
    const settlement = await settle(stack, ledger, { since: started, timeoutMs: DRAIN_BOUND_MS, recordsExpire: true })
    const drainedAt = performance.now()
    let acceptedAgain = Infinity
    while (performance.now() - drainedAt < ACCEPT_AGAIN_BOUND_MS + 5000) {
      const reply = await request(`${stack.url}/transactions`, { method: 'POST', headers: { authorization: `Bearer ${stack.token(USERS[0]!)}` }, body: { amount: 1, currency: 'GBP' } })
      if (reply.status === 202) {
        acceptedAgain = performance.now() - drainedAt
        break
      }
      await sleep(100)
    }
    const completedBytes = (await usedMemory(stack)) - before

    await report(t, `backlog-${scenario.name.replace(/\W+/g, '-')}`, {
      maxmemory: scenario.maxmemory,
      sent: ledger.sent,
      acknowledged: acked,
      refused_503: refused.length,
      accepted_after_first_503: acceptedAfterShedding,
      max_backlog: health.queue?.max_backlog ?? 'unknown',
      bytes_per_queued: acked > 0 ? Math.round(queuedBytes / acked) : 'none',
      used_memory_peak_mb: Math.round(Number(memory.used_memory_peak) / 1024 / 10.24) / 100,
      peak_of_maxmemory_pct: Math.round((Number(memory.used_memory_peak) / maxmemory) * 100),
      redis_oom_refusals: Number(/count=(\d+)/.exec(errors.errorstat_OOM ?? '')?.[1] ?? 0),
      drain_s: seconds(settlement.ms),
      drained_jobs_per_s: Math.round(acked / (settlement.ms / 1000)),
      accepted_again_s: Number.isFinite(acceptedAgain) ? seconds(acceptedAgain) : 'never',
      bytes_per_completed: acked > 0 ? Math.round(completedBytes / acked) : 'none',
      processed: settlement.processed,
      lost: settlement.lost,
      awarded_twice: settlement.awardedTwice,
    })
    t.comment(`flood: ${tally(posts)}`)

    t.ok(refused.length > 0, `the API refused transactions (${refused.length})`)
    t.ok(
      refused.every((a) => scenario.shedMessage.test(a.error ?? '')),
      `every refusal said why (${[...new Set(refused.map((a) => a.error?.slice(0, 60)))].slice(0, 3).join(' | ')})`,
    )
    t.same(
      posts.filter((a) => a.status !== 202 && a.status !== 503),
      [],
      'nothing but 202 and 503: never a 500, never a hang',
    )
    t.equal(errors.errorstat_OOM, undefined, 'Redis refused no write (no OOM error at all)')
    t.ok(Number(memory.used_memory_peak) < maxmemory, `Redis never reached maxmemory (peak ${memory.used_memory_peak} of ${maxmemory})`)
    t.equal(health.accepting, false, 'health said the API was not accepting')
    t.ok(settlement.settled, `the backlog drained once the workers started (${JSON.stringify(settlement.state)})`)
    t.equal(settlement.lost, 0, 'nothing acknowledged lost', { users: showUsers(settlement) })
    t.equal(settlement.awardedTwice, 0, 'nothing awarded twice', { users: showUsers(settlement) })
    t.ok(acceptedAgain < ACCEPT_AGAIN_BOUND_MS, `a new transaction was taken ${seconds(acceptedAgain)} s after the drain, by itself`)
  })
}
