// Jobs written straight into Redis, for the scenarios that need kue in a state its own API will not
// produce on demand: jobs whose BLPOP token is missing (kue's "inactive jobs stuck when its index
// drifts": a worker that died after BLPOP and before popping the job, or a BLPOP reply lost when Redis
// restarted), and the same transaction delivered as several jobs.
import type { Redis } from 'ioredis'
import { keys } from '../../services/shared/keys.ts'
import { TRANSACTION_JOB, transactionJobPolicy } from '../../services/shared/queue.ts'
import type { TransactionEvent } from '../../services/shared/transaction-event.ts'

export { transactionEvent, writeQueuedRecord } from '../helpers/transaction-fixtures.ts'

// kue 0.11's Job#save (and Job#state('inactive')) in one step, minus the LPUSH of the BLPOP token.
// kue's zset member is its "createFIFO" id: the id's length on two digits, '|', the id.
const saveWithoutTokenScript = `
local prefix, job_type, data, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local id = redis.call('INCR', prefix .. ':ids')
local zid = string.format('%02d', string.len(tostring(id))) .. '|' .. id
redis.call('HSET', prefix .. ':job:' .. id, 'type', job_type, 'data', data, 'created_at', now, 'promote_at', now,
  'updated_at', now, 'priority', '0', 'max_attempts', ARGV[5], 'ttl', ARGV[6], 'backoff', ARGV[7],
  'removeOnComplete', 'true', 'state', 'inactive')
redis.call('SADD', prefix .. ':job:types', job_type)
redis.call('ZADD', prefix .. ':jobs', 0, zid)
redis.call('ZADD', prefix .. ':jobs:inactive', 0, zid)
redis.call('ZADD', prefix .. ':jobs:' .. job_type .. ':inactive', 0, zid)
return id
`

/** An inactive kue job for `event` with no BLPOP token: no worker wakes up for it until the watchdog adds one. */
export async function saveJobWithoutToken(redis: Redis, event: TransactionEvent): Promise<string> {
  const id = await redis.eval(
    saveWithoutTokenScript,
    0,
    keys.queuePrefix,
    TRANSACTION_JOB,
    JSON.stringify(event),
    String(Date.now()),
    String(transactionJobPolicy.attempts),
    String(transactionJobPolicy.ttlMs),
    JSON.stringify({ delay: transactionJobPolicy.backoffMs, type: 'exponential' }),
  )
  return String(id)
}

/** Statuses of the records of `ids`, in order. */
export async function statusesOf(redis: Redis, ids: string[]): Promise<(string | null)[]> {
  if (ids.length === 0) return []
  const pipeline = redis.pipeline()
  for (const id of ids) pipeline.hget(keys.transaction(id), 'status')
  return ((await pipeline.exec()) ?? []).map(([, status]) => (status as string | null) ?? null)
}
