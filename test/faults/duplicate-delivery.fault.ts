// Fault 4: the same transaction delivered more than once: as two jobs taken at the same moment by
// different workers, again after it completed, and as a client's retried POST with the same
// Idempotency-Key (concurrent and sequential). Each transaction must earn exactly one stamp.
//
//   npm run build && npx tap --disable-coverage test/faults/duplicate-delivery.fault.ts
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { keys } from '../../services/shared/keys.ts'
import { closeQueue, createQueue, queueReady, TRANSACTION_JOB, transactionJobPolicy, type Queue } from '../../services/shared/queue/index.ts'
import type { TransactionEvent } from '../../services/shared/transaction-event.ts'
import { request } from '../helpers/http-client.ts'
import { memoryLogger } from '../helpers/log-sink.ts'
import { logEntries, startPlatform } from '../helpers/platform-stack.ts'
import { saveJobWithoutToken, statusesOf, transactionEvent, writeQueuedRecord } from './kue-jobs.ts'
import { ackCount, drained, type Ledger, loyaltySnapshot, report, seconds, settle, showUsers } from './load.ts'

const USERS = [1, 2, 3, 4]
const TRANSACTIONS = 200
const COPIES = 2

const stack = await startPlatform({ loyaltyInstances: 2 })
t.teardown(() => stack.stop())
// The queue as the Transaction API uses it (kue: one per process; this file's only one).
const queue: Queue = createQueue(stack.redis.url, memoryLogger().logger)
t.teardown(() => closeQueue(queue, 1000))
await queueReady(queue, 5000)

/** A kue job for `event`, as the Transaction API makes them, at kue priority `priority`. */
function enqueueCopy(event: TransactionEvent, priority: 'normal' | 'high'): Promise<void> {
  return new Promise((resolve, reject) => {
    queue
      .create(TRANSACTION_JOB, event)
      .priority(priority)
      .attempts(transactionJobPolicy.attempts)
      .backoff({ delay: transactionJobPolicy.backoffMs, type: 'exponential' })
      .ttl(transactionJobPolicy.ttlMs)
      .removeOnComplete(true)
      .save((err?: Error) => (err ? reject(err) : resolve()))
  })
}

async function post(user: number, body: object, idempotencyKey?: string): Promise<{ status: number; id?: string; replayed: boolean }> {
  const headers: Record<string, string> = { authorization: `Bearer ${stack.token(user)}` }
  if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey
  const reply = await request(`${stack.url}/transactions`, { method: 'POST', headers, body })
  const id = (reply.json as { id?: unknown } | undefined)?.id
  return { status: reply.status, ...(typeof id === 'string' ? { id } : {}), replayed: reply.headers['idempotent-replayed'] === 'true' }
}

const emptyLedger = (): Ledger => ({
  sent: 0, acknowledged: new Map(USERS.map((u) => [u, new Set<string>()])), ackedAt: new Map(), unacknowledged: 0, attempts: [], outcomes: new Map(), samples: [], t0: performance.now(),
})

const deliveries = async (): Promise<{ awarded: Map<string, { at: number; pid: number }[]>; duplicates: Map<string, { at: number; pid: number }[]> }> => {
  const awarded = new Map<string, { at: number; pid: number }[]>()
  const duplicates = new Map<string, { at: number; pid: number }[]>()
  for (const entry of logEntries(await stack.logs('loyalty'))) {
    const into = entry.msg === 'transaction awarded' ? awarded : entry.msg === 'transaction already awarded, duplicate delivery ignored' ? duplicates : undefined
    if (into === undefined || typeof entry.transaction_id !== 'string') continue
    const list = into.get(entry.transaction_id) ?? []
    list.push({ at: Date.parse(String(entry.time)), pid: Number(entry.pid) })
    into.set(entry.transaction_id, list)
  }
  return { awarded, duplicates }
}

const completed = new Map<string, TransactionEvent>()

await t.test('when each transaction is delivered as several jobs taken at the same moment by different workers, then it is awarded once', async (t) => {
  const baseline = await loyaltySnapshot(stack, USERS)
  const ledger = emptyLedger()
  const events: TransactionEvent[] = []
  // Each transaction's record as the API writes it, and its jobs side by side, without BLPOP tokens yet:
  // the workers (2 processes x 10) stay blocked until all tokens arrive at once, then take neighbours.
  for (let i = 0; i < TRANSACTIONS; i++) {
    const event = transactionEvent(USERS[i % USERS.length]!)
    ledger.sent++
    await writeQueuedRecord(stack.redis.client, event)
    for (let c = 0; c < COPIES + 1; c++) await saveJobWithoutToken(stack.redis.client, event)
    ledger.acknowledged.get(event.user_id)!.add(event.transaction_id)
    events.push(event)
  }
  const before = await stack.queueState()
  await stack.redis.client.lpush(`${keys.queuePrefix}:${TRANSACTION_JOB}:jobs`, ...Array.from({ length: before.inactive }, () => '1'))
  const since = performance.now()
  const settlement = await settle(stack, ledger, { since, timeoutMs: 60_000, baseline })
  const { awarded, duplicates } = await deliveries()
  let concurrent = 0
  let acrossProcesses = 0
  for (const event of events) {
    const all = [...(awarded.get(event.transaction_id) ?? []), ...(duplicates.get(event.transaction_id) ?? [])].sort((a, b) => a.at - b.at)
    // Two deliveries of one transaction done within 5 ms of each other: taken together by two workers.
    const together = all.filter((d, i) => i > 0 && d.at - all[i - 1]!.at <= 5)
    if (together.length > 0) concurrent++
    if (together.some((d) => all.some((other) => other.pid !== d.pid && Math.abs(other.at - d.at) <= 5))) acrossProcesses++
    completed.set(event.transaction_id, event)
  }
  const awardedTwice = events.filter((e) => (awarded.get(e.transaction_id)?.length ?? 0) > 1).length

  await report(t, 'duplicate-delivery-concurrent', {
    transactions: ledger.sent,
    deliveries: before.inactive,
    processed: settlement.processed,
    lost: settlement.lost,
    awarded_twice: settlement.awardedTwice,
    award_logged_twice: awardedTwice,
    duplicates_ignored: events.reduce((sum, e) => sum + (duplicates.get(e.transaction_id)?.length ?? 0), 0),
    transactions_with_concurrent_deliveries: concurrent,
    of_which_in_two_processes: acrossProcesses,
    recovery_s: seconds(settlement.ms),
  })
  t.equal(before.inactive, TRANSACTIONS * (COPIES + 1), `${COPIES + 1} jobs queued per transaction`)
  t.ok(settlement.settled, `all delivered (${JSON.stringify(settlement.state)})`)
  t.ok(concurrent >= TRANSACTIONS / 2 && acrossProcesses >= 1, `copies of ${concurrent} transactions were processed at the same moment by two workers, ${acrossProcesses} of them by two processes`)
  for (const [user, tally] of settlement.users) t.equal(tally.earned, tally.acknowledged, `user ${user}: one stamp per transaction (${tally.earned} for ${tally.acknowledged})`)
  t.equal(settlement.awardedTwice, 0, 'no transaction awarded twice', { users: showUsers(settlement) })
  t.equal(awardedTwice, 0, 'no transaction logged as awarded twice')
})

await t.test('when transactions are delivered again after they completed, then nothing more is awarded', async (t) => {
  t.ok(completed.size > 0, 'completed transactions from the previous test')
  const baseline = await loyaltySnapshot(stack, USERS)
  const { duplicates: ignoredBefore } = await deliveries()
  const countIgnored = (map: Map<string, unknown[]>) => [...completed.keys()].reduce((sum, id) => sum + (map.get(id)?.length ?? 0), 0)
  for (const event of completed.values()) await enqueueCopy(event, 'normal')
  const since = performance.now()
  let state = await stack.queueState()
  while (!drained(state) && performance.now() - since < 30_000) {
    await sleep(200)
    state = await stack.queueState()
  }
  await sleep(500)
  const after = await loyaltySnapshot(stack, USERS)
  const extra = USERS.reduce((sum, u) => sum + after.get(u)!.earned - baseline.get(u)!.earned, 0)
  const { duplicates } = await deliveries()
  const ignored = countIgnored(duplicates) - countIgnored(ignoredBefore)
  await report(t, 'duplicate-delivery-after-completion', { redelivered: completed.size, awarded_again: extra, duplicates_ignored: ignored, drained_s: seconds(performance.now() - since) })
  t.ok(drained(state), `the redeliveries were all taken (${JSON.stringify(state)})`)
  t.equal(extra, 0, `no stamp for ${completed.size} redelivered transactions`)
  t.equal(ignored, completed.size, 'each redelivery recognised as a duplicate')
  t.same([...new Set(await statusesOf(stack.redis.client, [...completed.keys()]))], ['completed'], 'the records stay completed')
})

await t.test('when a client retries a POST with the same Idempotency-Key, concurrently and after the answer, then one transaction is queued and awarded once', async (t) => {
  const baseline = await loyaltySnapshot(stack, USERS)
  const KEYS = 50
  const ledger = emptyLedger()
  let replays = 0
  const ids = new Map<string, Set<string>>()
  const statuses = new Map<number, number>()
  await Promise.all(Array.from({ length: KEYS }, async (_, i) => {
    const user = USERS[i % USERS.length]!
    const key = randomUUID()
    const body = { amount: 5000 + i, currency: 'GBP' }
    ledger.sent++
    const seen = new Set<string>()
    const note = (reply: Awaited<ReturnType<typeof post>>): void => {
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1)
      if (reply.id !== undefined) seen.add(reply.id)
      if (reply.replayed) replays++
    }
    // Five at once (a client that timed out and retried, twice, while the first was still in flight)...
    for (const reply of await Promise.all(Array.from({ length: 5 }, () => post(user, body, key)))) note(reply)
    // ...then three more, one after the other, after the answers.
    for (let r = 0; r < 3; r++) note(await post(user, body, key))
    ids.set(key, seen)
    for (const id of seen) ledger.acknowledged.get(user)!.add(id)
  }))
  const settlement = await settle(stack, ledger, { since: performance.now(), timeoutMs: 30_000, baseline })
  const distinct = [...ids.values()].filter((set) => set.size !== 1).length
  await report(t, 'duplicate-delivery-idempotent-post', {
    keys: KEYS,
    posts: KEYS * 8,
    answers: [...statuses].map(([status, n]) => `${status}×${n}`).join(','),
    replayed: replays,
    transactions_created: ackCount(ledger),
    processed: settlement.processed,
    awarded_twice: settlement.awardedTwice,
  })
  t.same([...statuses.keys()], [202], 'every POST answered 202 (a concurrent retry waits for the first)')
  t.equal(distinct, 0, 'each Idempotency-Key named exactly one transaction')
  t.equal(ackCount(ledger), KEYS, `${KEYS} transactions for ${KEYS} keys`)
  t.equal(replays, KEYS * 7, 'all but the first POST of each key were replays')
  t.ok(settlement.settled, 'all processed')
  for (const [user, tally] of settlement.users) t.equal(tally.earned, tally.acknowledged, `user ${user}: ${tally.acknowledged} stamps`)
  t.equal(settlement.awardedTwice, 0, 'none awarded twice')
})
