// The transaction job: its kue type and retry policy, and how it is laid out in Redis. Apart from
// queue.ts so that a process that only writes jobs (the Transaction API) does not load kue.
import { keys } from '../keys.ts'
import type { Redis } from '../redis.ts'
import type { TransactionEvent } from '../transaction-event.ts'

export const TRANSACTION_JOB = 'transaction'

/** How a transaction job is retried: failures are visible in kue (state, error, attempts), not silent. */
export const transactionJobPolicy = {
  attempts: 8,
  // 0.5 s, 1 s, 2 s, ... between attempts.
  backoffMs: 500,
  // A job active for longer than this is assumed to belong to a dead worker; kue fails it and retries it.
  ttlMs: 10_000,
} as const

/**
 * What kue 0.11's Job#save writes for a new inactive job, as a Lua function for a script that writes a
 * job together with other keys in one atomic step (the Transaction API: record, idempotency key and job).
 * kue is unmaintained and 0.11.6 is its last release, so this layout is frozen; a test compares a job
 * written here with one kue's own save writes, field by field, and lets kue's worker consume it.
 *   save_inactive_job(prefix, job_type, priority, fields) → the new job id
 * `fields`: the job hash as flat name/value pairs (transactionJobFields), 'state' included. The job's
 * keys derive from its id, so they cannot be declared in KEYS (fine on one Redis, not on a cluster).
 */
export const saveInactiveJobLua = `
local function save_inactive_job(prefix, job_type, priority, fields)
  local id = redis.call('INCR', prefix .. ':ids')
  -- kue's createFIFO: the id's length on two digits, '|', the id (its sorted sets order by this member).
  local zid = string.format('%02d', string.len(tostring(id))) .. '|' .. id
  redis.call('HSET', prefix .. ':job:' .. id, unpack(fields))
  redis.call('SADD', prefix .. ':job:types', job_type)
  redis.call('ZADD', prefix .. ':jobs', priority, zid)
  redis.call('ZADD', prefix .. ':jobs:inactive', priority, zid)
  redis.call('ZADD', prefix .. ':jobs:' .. job_type .. ':inactive', priority, zid)
  -- The token a waiting worker's BLPOP takes before it pops the job.
  redis.call('LPUSH', prefix .. ':' .. job_type .. ':jobs', 1)
  return id
end
`

/** kue's priority 'normal', the score of every transaction job. */
export const TRANSACTION_JOB_PRIORITY = 0

/**
 * The hash of a new transaction job as kue's save writes it (values as strings), with the platform's job
 * policy: the same job as kue's own save makes (test/helpers/kue-save.ts), as flat name/value pairs for
 * saveInactiveJobLua.
 */
export function transactionJobFields(event: TransactionEvent, nowMs: number): string[] {
  const now = String(nowMs)
  const fields: Record<string, string> = {
    max_attempts: String(transactionJobPolicy.attempts),
    type: TRANSACTION_JOB,
    created_at: now,
    promote_at: now,
    ttl: String(transactionJobPolicy.ttlMs),
    removeOnComplete: 'true',
    backoff: JSON.stringify({ delay: transactionJobPolicy.backoffMs, type: 'exponential' }),
    updated_at: now,
    priority: String(TRANSACTION_JOB_PRIORITY),
    data: JSON.stringify(event),
    state: 'inactive',
  }
  return Object.entries(fields).flat()
}

/** kue's states of a job not done yet: the backlog admission control bounds. */
const pendingStates = ['inactive', 'active', 'delayed'] as const

/** Transaction jobs waiting, running or waiting for a retry (kue's per-type sorted sets). */
export async function backlogOf(redis: Redis): Promise<number> {
  const pipeline = redis.pipeline()
  for (const state of pendingStates) pipeline.zcard(`${keys.queuePrefix}:jobs:${TRANSACTION_JOB}:${state}`)
  const replies = (await pipeline.exec()) ?? []
  return replies.reduce((sum, [err, n]) => {
    if (err) throw err
    return sum + Number(n)
  }, 0)
}
