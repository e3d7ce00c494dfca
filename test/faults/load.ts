// Load and bookkeeping shared by the fault scenarios: a client that posts transactions through nginx as
// a careful app would (one Idempotency-Key per transaction, retried on 503/5xx/no answer), a ledger
// of what the platform acknowledged, and the settlement check: every acknowledged transaction processed
// exactly once (stamps + vouchers × stamps-per-voucher == acknowledged count, per user), nothing left in
// the queue.
import { randomUUID } from 'node:crypto'
import { appendFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { readLoyalty } from '../../services/loyalty-worker/award.ts'
import { keys } from '../../services/shared/keys.ts'
import { type HttpReply, NoReply, request } from '../helpers/http-client.ts'
import type { Redis } from 'ioredis'
import type { PlatformStack, QueueState } from '../helpers/platform-stack.ts'

/** What the load and the settlement use of a platform: a PM2 stack (platform-stack.ts) or containers. */
export type LoadTarget = Pick<PlatformStack, 'url' | 'token' | 'stampsPerVoucher' | 'queueState'> & { redis: { client: Redis } }

export interface LoadOptions {
  users: number[]
  /** Transactions to send (each with its own Idempotency-Key). */
  count: number
  concurrency: number
  /** Retry a transaction (same key) until it is acknowledged; false: one attempt each, failures counted. */
  retry: boolean
  /** Give a transaction up after this long (retrying clients only); default 120 s. */
  giveUpMs?: number
  /** A request with no answer after this long is a hang; default 10 s. */
  timeoutMs?: number
  /** At most this many new transactions per second (default: as fast as the concurrency allows). */
  perSecond?: number
  /**
   * Send an Idempotency-Key with each transaction (default true). Without one (only with retry: false) a
   * transaction leaves no key behind in Redis: a soak measures what the records alone hold.
   */
  idempotencyKeys?: boolean
}

/** One HTTP attempt: when it started and ended (performance.now()), what it was, and what came back. */
export interface Attempt {
  what: string
  started: number
  ended: number
  status: number | string
  /** The JSON error message of a 4xx or 5xx answer. */
  error?: string
}

export interface Ledger {
  /** Transactions the client started. */
  sent: number
  /** Transaction ids answered 202, per user. */
  acknowledged: Map<number, Set<string>>
  /** When each transaction id was first acknowledged (performance.now()). */
  ackedAt: Map<string, number>
  /** Transactions given up (retrying) or failed (not retrying). */
  unacknowledged: number
  attempts: Attempt[]
  /** Count of each status (or failure code: ECONNRESET, TIMEOUT) over every attempt. */
  outcomes: Map<string, number>
  /** A few unexpected answers, for the failure messages. */
  samples: string[]
  /** performance.now() when the load started. */
  t0: number
}

const RETRYABLE = new Set([429, 502, 503, 504])
const currencies = ['GBP', 'EUR', 'USD', 'JPY']

export const ackCount = (ledger: Ledger): number => [...ledger.acknowledged.values()].reduce((sum, ids) => sum + ids.size, 0)

export interface Load {
  ledger: Ledger
  /** Resolves when every transaction started is acknowledged or given up. */
  done: Promise<Ledger>
  /** Stop starting new transactions (those in flight carry on). */
  stop(): void
  /** Acknowledged so far. */
  acked(): number
}

export function startLoad(stack: LoadTarget, options: LoadOptions): Load {
  const { users, count, concurrency, retry, giveUpMs = 120_000, timeoutMs = 10_000, idempotencyKeys = true } = options
  if (retry && !idempotencyKeys) throw new Error('a retrying client needs Idempotency-Keys, or a retry could be a second transaction')
  const t0 = performance.now()
  const ledger: Ledger = { sent: 0, acknowledged: new Map(users.map((u) => [u, new Set()])), ackedAt: new Map(), unacknowledged: 0, attempts: [], outcomes: new Map(), samples: [], t0 }
  let stopped = false
  let next = 0

  const note = (attempt: Attempt, reply?: HttpReply): void => {
    ledger.attempts.push(attempt)
    const key = String(attempt.status)
    ledger.outcomes.set(key, (ledger.outcomes.get(key) ?? 0) + 1)
    const expected = attempt.status === 202 || (retry && (typeof attempt.status === 'string' || RETRYABLE.has(attempt.status)))
    if (!expected && ledger.samples.length < 10) ledger.samples.push(`${attempt.status} ${reply?.text.slice(0, 200) ?? ''}`)
  }

  const transaction = async (index: number): Promise<void> => {
    const user = users[index % users.length]!
    const key = randomUUID()
    const body = { amount: 1 + ((index * 7919) % 10_000), currency: currencies[index % currencies.length] }
    const giveUpAt = performance.now() + giveUpMs
    for (;;) {
      const started = performance.now()
      let status: number | string
      let reply: HttpReply | undefined
      try {
        reply = await request(`${stack.url}/transactions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${stack.token(user)}`, ...(idempotencyKeys ? { 'idempotency-key': key } : {}) },
          body,
          timeoutMs,
        })
        status = reply.status
      } catch (err) {
        if (!(err instanceof NoReply)) throw err
        status = err.code
      }
      const error = (reply?.json as { error?: unknown } | undefined)?.error
      note({ what: 'POST /transactions', started, ended: performance.now(), status, ...(typeof error === 'string' ? { error } : {}) }, reply)
      if (status === 202) {
        const id = (reply?.json as { id?: unknown } | undefined)?.id
        if (typeof id === 'string') {
          ledger.acknowledged.get(user)!.add(id)
          if (!ledger.ackedAt.has(id)) ledger.ackedAt.set(id, performance.now())
        }
        return
      }
      const retryable = typeof status === 'string' || RETRYABLE.has(status)
      if (!retry || !retryable || performance.now() > giveUpAt) {
        ledger.unacknowledged++
        return
      }
      // About as the API asks (Retry-After on 503), a little sooner for a connection failure.
      await sleep(typeof status === 'string' ? 200 : 1000)
    }
  }

  const lane = async (): Promise<void> => {
    while (!stopped && next < count) {
      const index = next++
      ledger.sent++
      if (options.perSecond !== undefined) {
        const due = t0 + (index / options.perSecond) * 1000
        const wait = due - performance.now()
        if (wait > 0) await sleep(wait)
      }
      await transaction(index)
    }
  }

  const done = Promise.all(Array.from({ length: concurrency }, lane)).then(() => ledger)
  return { ledger, done, stop: () => void (stopped = true), acked: () => ackCount(ledger) }
}

export interface UserTally {
  acknowledged: number
  /** Stamps earned: held + vouchers × stamps per voucher. */
  earned: number
  /** The loyalty account's transaction counter. */
  transactions: number
}

export interface LoyaltySnapshot {
  earned: number
  transactions: number
}

async function loyaltyOf(stack: LoadTarget, user: number): Promise<LoyaltySnapshot> {
  const account = await readLoyalty(stack.redis.client, user)
  return { earned: account.stamps + account.vouchers_total * stack.stampsPerVoucher, transactions: account.transactions }
}

/** Users' loyalty now: a scenario that reuses users settles against it. */
export async function loyaltySnapshot(stack: LoadTarget, users: number[]): Promise<Map<number, LoyaltySnapshot>> {
  return new Map(await Promise.all(users.map(async (user) => [user, await loyaltyOf(stack, user)] as const)))
}

/** The jobs of the transaction queue that are not done, with their kue hashes: for failure messages. */
export async function stuckJobs(stack: LoadTarget): Promise<string> {
  const lines: string[] = []
  for (const state of ['inactive', 'active', 'delayed', 'failed']) {
    const members = await stack.redis.client.zrange(`${keys.queuePrefix}:jobs:transaction:${state}`, 0, 9, 'WITHSCORES')
    for (let i = 0; i < members.length; i += 2) {
      const id = members[i]!.split('|')[1] ?? ''
      const hash = await stack.redis.client.hgetall(`${keys.queuePrefix}:job:${id}`)
      const inGlobal = await stack.redis.client.zscore(`${keys.queuePrefix}:jobs:${state}`, members[i]!)
      const data = hash.data === undefined ? undefined : (JSON.parse(hash.data) as { transaction_id?: string })
      const record = data?.transaction_id === undefined ? {} : await stack.redis.client.hgetall(keys.transaction(data.transaction_id))
      lines.push(`${state} ${members[i]} score=${members[i + 1]} in q:jobs:${state}=${inGlobal ?? 'no'} job=${JSON.stringify({ ...hash, data: undefined })} record=${record.status ?? 'none'}`)
    }
  }
  return lines.join('\n')
}

export interface Settlement {
  settled: boolean
  /** ms from `since` until settled (or until the timeout). */
  ms: number
  state: QueueState
  /** Acknowledged transactions whose record is not completed. */
  notCompleted: number
  /** Acknowledged transactions whose record is missing from Redis. */
  missing: number
  users: Map<number, UserTally>
  processed: number
  lost: number
  awardedTwice: number
}

async function recordStatuses(stack: LoadTarget, ids: string[]): Promise<Map<string, string | null>> {
  const statuses = new Map<string, string | null>()
  for (let i = 0; i < ids.length; i += 1000) {
    const chunk = ids.slice(i, i + 1000)
    const pipeline = stack.redis.client.pipeline()
    for (const id of chunk) pipeline.hget(keys.transaction(id), 'status')
    const replies = (await pipeline.exec()) ?? []
    chunk.forEach((id, j) => statuses.set(id, (replies[j]?.[1] as string | null | undefined) ?? null))
  }
  return statuses
}

export const drained = (state: QueueState): boolean => state.inactive + state.active + state.delayed + state.orphaned === 0

/**
 * Waits until the queue has nothing left to do (no inactive, active, delayed or orphaned job) and every
 * acknowledged record is completed, then tallies loyalty per user. `since` is a performance.now() value.
 */
export async function settle(
  stack: LoadTarget,
  ledger: Ledger,
  options: { since: number; timeoutMs: number; baseline?: Map<number, LoyaltySnapshot>; recordsExpire?: boolean },
): Promise<Settlement> {
  const ids = [...ledger.acknowledged.values()].flatMap((set) => [...set])
  let settled = false
  let state: QueueState
  let statuses: Map<string, string | null>
  for (;;) {
    try {
      state = await stack.queueState()
      statuses = await recordStatuses(stack, ids)
      // With a short retention a finished record may be gone already: the users' stamps are the proof then.
      const finished = (status: string | null): boolean => status === 'completed' || status === 'failed' || (options.recordsExpire === true && status === null)
      if (drained(state) && [...statuses.values()].every(finished)) {
        settled = true
        break
      }
    } catch {
      // Redis still starting: look again.
    }
    if (performance.now() - options.since > options.timeoutMs) break
    await sleep(250)
  }
  const ms = performance.now() - options.since
  state = await stack.queueState()
  statuses = await recordStatuses(stack, ids)
  const users = new Map<number, UserTally>()
  let processed = 0
  let lost = 0
  let awardedTwice = 0
  for (const [user, acked] of ledger.acknowledged) {
    const now = await loyaltyOf(stack, user)
    const before = options.baseline?.get(user) ?? { earned: 0, transactions: 0 }
    const earned = now.earned - before.earned
    users.set(user, { acknowledged: acked.size, earned, transactions: now.transactions - before.transactions })
    processed += earned
    lost += Math.max(0, acked.size - earned)
    awardedTwice += Math.max(0, earned - acked.size)
  }
  const values = [...statuses.values()]
  return {
    settled,
    ms,
    state,
    notCompleted: values.filter((status) => status !== 'completed').length,
    missing: values.filter((status) => status === null).length,
    users,
    processed,
    lost,
    awardedTwice,
  }
}

export type Figures = Record<string, string | number | boolean>

/** Prints a scenario's figures as one line (tap comment) and, with FAULT_FIGURES=<file>, appends them as JSON. */
export async function report(t: { comment(...args: unknown[]): void }, scenario: string, figures: Figures): Promise<void> {
  t.comment(`figures ${scenario}: ${Object.entries(figures).map(([name, value]) => `${name}=${value}`).join(' ')}`)
  const file = process.env.FAULT_FIGURES
  if (file) await appendFile(file, `${JSON.stringify({ scenario, at: new Date().toISOString(), ...figures })}\n`)
}

export const seconds = (ms: number): number => Math.round(ms / 100) / 10

export const showOutcomes = (ledger: Ledger): string =>
  [...ledger.outcomes].sort(([a], [b]) => a.localeCompare(b)).map(([status, n]) => `${status}×${n}`).join(',')

/** Per user "acked/earned", for failure messages. */
export const showUsers = (settlement: Settlement): string =>
  [...settlement.users].map(([user, tally]) => `user ${user}: ${tally.acknowledged} acked, ${tally.earned} earned, ${tally.transactions} counted`).join('; ')

export interface Probes {
  attempts: Attempt[]
  stop(): Promise<void>
}

/**
 * Reads and logins alongside a load, each recorded like the load's attempts: a login every 400 ms (under
 * nginx's 10/s), GET /loyalty/me every 100 ms, and the two health checks every 250 ms.
 */
export function startProbes(stack: LoadTarget, timeoutMs = 10_000): Probes {
  const attempts: Attempt[] = []
  let running = true
  const loop = async (what: string, intervalMs: number, send: () => Promise<HttpReply>): Promise<void> => {
    while (running) {
      const started = performance.now()
      let status: number | string
      try {
        status = (await send()).status
      } catch (err) {
        if (!(err instanceof NoReply)) throw err
        status = err.code
      }
      attempts.push({ what, started, ended: performance.now(), status })
      await sleep(intervalMs)
    }
  }
  const loops = [
    loop('POST /authentication/token', 400, () => request(`${stack.url}/authentication/token`, { method: 'POST', body: { username: 'bob', password: 'password' }, timeoutMs })),
    loop('GET /loyalty/me', 100, () => request(`${stack.url}/loyalty/me`, { headers: { authorization: `Bearer ${stack.token(2)}` }, timeoutMs })),
    loop('GET /transactions/health', 250, () => request(`${stack.url}/transactions/health`, { timeoutMs })),
    loop('GET /loyalty/health', 250, () => request(`${stack.url}/loyalty/health`, { timeoutMs })),
  ]
  return {
    attempts,
    stop: async () => {
      running = false
      await Promise.all(loops)
    },
  }
}

/** "status×count" per request kind, e.g. "GET /loyalty/me 200×40,503×12". */
export function tally(attempts: Attempt[]): string {
  const byWhat = new Map<string, Map<string, number>>()
  for (const attempt of attempts) {
    const counts = byWhat.get(attempt.what) ?? new Map<string, number>()
    counts.set(String(attempt.status), (counts.get(String(attempt.status)) ?? 0) + 1)
    byWhat.set(attempt.what, counts)
  }
  return [...byWhat].map(([what, counts]) => `${what} ${[...counts].map(([status, n]) => `${status}×${n}`).join(',')}`).join('; ')
}
