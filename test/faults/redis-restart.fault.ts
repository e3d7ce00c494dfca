// Fault 3: Redis goes away under load and comes back, first stopped cleanly (SIGTERM), then killed
// (SIGKILL), with the provisioned persistence (AOF, appendfsync everysec). While it is down the APIs must
// answer 503 at once (never hang, never 500); they and the workers must recover by themselves (no
// restart); nothing acknowledged may be lost. After the restart kue's stuck-job watchdog must still run
// (kue's own one stops for good at its first error, which a Redis restart causes).
//
//   npm run build && npx tap --disable-coverage test/faults/redis-restart.fault.ts
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { keys } from '../../services/shared/keys.ts'
import { startPlatform } from '../helpers/platform-stack.ts'
import { saveJobWithoutToken, statusesOf, transactionEvent, writeQueuedRecord } from './kue-jobs.ts'
import { ackCount, type Attempt, drained, loyaltySnapshot, report, seconds, settle, showUsers, startLoad, startProbes, stuckJobs, tally } from './load.ts'

const USERS = [1, 2, 3, 4]
const DOWN_MS = 5000
/** An answer while Redis is down must come within this (the services give up on Redis after ~1-2 s). */
const ANSWER_BOUND_MS = 3000
/** After Redis is back: the APIs accept again, and all acknowledged work is done, within these. */
const API_RECOVERY_BOUND_MS = 5000
const RECOVERY_BOUND_MS = 45_000
/** kue's stuck-job watchdog runs every 5 s (services/shared/queue/consumer.ts). */
const WATCHDOG_BOUND_MS = 15_000
/** The orphan sweep runs every 10 s and acts at an entry's second sighting. */
const SWEEP_BOUND_MS = 25_000

const stack = await startPlatform({ loyaltyInstances: 2 })
t.teardown(() => stack.stop())

const unexpected = (attempts: Attempt[]): Attempt[] =>
  attempts.filter((a) => a.status === 500 || a.status === 502 || a.status === 504 || typeof a.status === 'string')

/** The processes' pids and restart counts: a worker that recovers by itself keeps both. */
async function identities(): Promise<string> {
  return (await stack.processes()).map((p) => `${p.name}:${p.pid}:${p.pm2_env.restart_time}`).sort().join(' ')
}

await t.test('when Redis is stopped and started again under load, then the APIs answer 503 meanwhile, everything recovers by itself and nothing acknowledged is lost', async (t) => {
  const processesBefore = await identities()
  const baseline = await loyaltySnapshot(stack, USERS)
  const load = startLoad(stack, { users: USERS, count: 1500, concurrency: 8, retry: true, perSecond: 100 })
  const probes = startProbes(stack)
  await sleep(4000)
  const stopping = performance.now()
  await stack.stopRedis('SIGTERM')
  const down = performance.now()
  const ackedBeforeStop = [...load.ledger.ackedAt.values()].filter((at) => at < stopping).length
  await sleep(DOWN_MS)
  const starting = performance.now()
  await stack.startRedis()
  const up = performance.now()
  const ledger = await load.done
  await sleep(500)
  await probes.stop()
  const settlement = await settle(stack, ledger, { since: up, timeoutMs: RECOVERY_BOUND_MS + 15_000, baseline })
  const processesAfter = await identities()

  const all = [...ledger.attempts, ...probes.attempts]
  // Sent once Redis was gone and answered before it was back: these met the outage and nothing else.
  const outage = all.filter((a) => a.started >= down && a.ended <= starting)
  const outageStatuses = new Set(outage.map((a) => a.status))
  const slowest = Math.max(0, ...outage.map((a) => a.ended - a.started))
  const firstAccepted = Math.min(...ledger.attempts.filter((a) => a.status === 202 && a.started >= up).map((a) => a.ended))
  const apiRecovery = firstAccepted - up
  const bad = unexpected(all)

  await report(t, 'redis-restart', {
    sent: ledger.sent,
    acknowledged: ackCount(ledger),
    acknowledged_before_stop: ackedBeforeStop,
    processed: settlement.processed,
    lost: settlement.lost,
    awarded_twice: settlement.awardedTwice,
    down_s: seconds(starting - down),
    answers_while_down: outage.length,
    answers_while_down_503: outage.filter((a) => a.status === 503).length,
    slowest_answer_while_down_ms: Math.round(slowest),
    http_500_502_504_or_none: bad.length,
    api_recovery_s: seconds(apiRecovery),
    recovery_s: seconds(settlement.ms),
    restarted_processes: processesBefore === processesAfter ? 0 : 'some',
  })
  t.comment(`answers: ${tally(all)}`)
  if (!settlement.settled) t.comment(`not done:\n${await stuckJobs(stack)}`)

  t.ok(outage.length >= 50, `requests met the outage (${outage.length})`)
  t.same([...outageStatuses], [503], `every answer while Redis was down was a 503 (${tally(outage)})`)
  t.ok(slowest < ANSWER_BOUND_MS, `each within ${ANSWER_BOUND_MS} ms, none hung (slowest ${Math.round(slowest)} ms)`)
  t.same(bad, [], 'never a 500, 502, 504 or no answer, before, during or after the outage')
  t.ok(apiRecovery < API_RECOVERY_BOUND_MS, `the Transaction API accepted again ${seconds(apiRecovery)} s after Redis was back (bound ${API_RECOVERY_BOUND_MS / 1000} s)`)
  t.equal(processesAfter, processesBefore, 'no process restarted: same pids, same restart counts')
  t.equal(ledger.unacknowledged, 0, 'every transaction was eventually acknowledged (the client retried the 503s with its Idempotency-Key)')
  t.ok(settlement.settled, `the workers resumed: queue drained and every acknowledged record completed (${JSON.stringify(settlement.state)})`)
  t.ok(settlement.ms < RECOVERY_BOUND_MS, `within ${RECOVERY_BOUND_MS / 1000} s (${seconds(settlement.ms)} s)`)
  t.equal(settlement.lost, 0, 'nothing acknowledged was lost', { users: showUsers(settlement) })
  t.equal(settlement.awardedTwice, 0, 'nothing awarded twice', { users: showUsers(settlement) })
  t.equal(settlement.state.failed, 0, 'no job failed')
})

await t.test('when kue is left with jobs stuck without a BLPOP token and entries of deleted jobs after the Redis restart, then the watchdog and the sweep repair it', async (t) => {
  const state = await stack.queueState()
  t.ok(drained(state) && state.tokens === 0, `precondition: the queue is idle with no spare token (${JSON.stringify(state)})`)
  const events = Array.from({ length: 20 }, (_, i) => transactionEvent(USERS[i % USERS.length]!))
  for (const event of events) {
    await writeQueuedRecord(stack.redis.client, event)
    await saveJobWithoutToken(stack.redis.client, event)
  }
  // kue's leftovers when Redis fails between its steps: entries in the type's active set of jobs it deleted.
  const activeSet = `${keys.queuePrefix}:jobs:transaction:active`
  const ghosts = ['07|9000001', '07|9000002', '07|9000003']
  for (const ghost of ghosts) await stack.redis.client.zadd(activeSet, 0, ghost)
  const ids = events.map((e) => e.transaction_id)
  const injected = performance.now()
  let freedMs: number | undefined
  let ghostsLeft = ghosts.length
  let statuses: (string | null)[] = []
  while (performance.now() - injected < SWEEP_BOUND_MS + 5000) {
    statuses = await statusesOf(stack.redis.client, ids)
    if (freedMs === undefined && statuses.every((s) => s === 'completed')) freedMs = performance.now() - injected
    ghostsLeft = (await Promise.all(ghosts.map((g) => stack.redis.client.zscore(activeSet, g)))).filter((score) => score !== null).length
    if (freedMs !== undefined && ghostsLeft === 0) break
    await sleep(250)
  }
  const ghostsMs = performance.now() - injected
  await report(t, 'redis-restart-kue-repair', {
    stuck_jobs: ids.length,
    completed: statuses.filter((s) => s === 'completed').length,
    freed_s: freedMs === undefined ? 'never' : seconds(freedMs),
    ghost_entries: ghosts.length,
    ghosts_left: ghostsLeft,
    ghosts_dropped_s: ghostsLeft === 0 ? seconds(ghostsMs) : 'never',
  })
  t.ok(statuses.every((s) => s === 'completed'), `all ${ids.length} stuck jobs processed (${statuses.filter((s) => s === 'completed').length} completed)`)
  t.ok(freedMs !== undefined && freedMs < WATCHDOG_BOUND_MS, `within ${WATCHDOG_BOUND_MS / 1000} s (${freedMs === undefined ? 'never' : seconds(freedMs)} s)`)
  t.equal(ghostsLeft, 0, `the ${ghosts.length} entries of deleted jobs were dropped within ${SWEEP_BOUND_MS / 1000} s`)
  t.ok(drained(await stack.queueState()), 'the queue is idle again')
})

await t.test('when Redis is killed with SIGKILL under load, then everything acknowledged before the crash is still there after it (AOF, everysec)', async (t) => {
  const processesBefore = await identities()
  const baseline = await loyaltySnapshot(stack, USERS)
  const load = startLoad(stack, { users: USERS, count: 1000, concurrency: 8, retry: true, perSecond: 100 })
  await sleep(4000)
  const killing = performance.now()
  await stack.stopRedis('SIGKILL')
  const ackedBefore = [...load.ledger.ackedAt].filter(([, at]) => at < killing).map(([id]) => id)
  await sleep(3000)
  await stack.startRedis()
  const up = performance.now()
  // What the restarted Redis has of what was acknowledged before the crash.
  const exists = await Promise.all(ackedBefore.map((id) => stack.redis.client.exists(keys.transaction(id))))
  const missing = exists.filter((n) => n === 0).length
  const persistence = await stack.redis.client.info('persistence')
  const delayedFsyncs = Number(/aof_delayed_fsync:(\d+)/.exec(persistence)?.[1] ?? -1)
  const ledger = await load.done
  const settlement = await settle(stack, ledger, { since: up, timeoutMs: RECOVERY_BOUND_MS + 15_000, baseline })
  const processesAfter = await identities()
  const bad = unexpected(ledger.attempts)

  await report(t, 'redis-kill-9', {
    sent: ledger.sent,
    acknowledged: ackCount(ledger),
    acknowledged_before_crash: ackedBefore.length,
    lost_by_crash: missing,
    aof_delayed_fsync: delayedFsyncs,
    processed: settlement.processed,
    lost: settlement.lost,
    awarded_twice: settlement.awardedTwice,
    http_500_502_504_or_none: bad.length,
    recovery_s: seconds(settlement.ms),
  })
  if (!settlement.settled) t.comment(`not done:\n${await stuckJobs(stack)}`)

  t.ok(ackedBefore.length > 100, `${ackedBefore.length} transactions were acknowledged before the crash`)
  t.equal(missing, 0, 'every one of them is in Redis after the restart: the AOF had them (a killed process loses nothing the kernel was given)')
  t.same(bad, [], 'never a 500, 502, 504 or no answer')
  t.equal(processesAfter, processesBefore, 'no process restarted')
  t.ok(settlement.settled, `everything acknowledged was processed (${JSON.stringify(settlement.state)})`)
  t.equal(settlement.lost, 0, 'nothing acknowledged lost', { users: showUsers(settlement) })
  t.equal(settlement.awardedTwice, 0, 'nothing awarded twice', { users: showUsers(settlement) })
})
