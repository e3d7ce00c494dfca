// The Transaction API's writes to Redis. Each is one atomic step (a Lua script) and each is bounded by a
// timeout so that a hung Redis turns into a 503, never a hung request.
import { withTimeout } from '../shared/errors.ts'
import { keys } from '../shared/keys.ts'
import type { Redis } from '../shared/redis.ts'
import { saveInactiveJobLua, TRANSACTION_JOB, TRANSACTION_JOB_PRIORITY, transactionJobFields } from '../shared/queue/transaction-job.ts'
import type { TransactionEvent } from '../shared/transaction-event.ts'
import { readTransaction, type TransactionRecord, toHash } from '../shared/transactions.ts'

/** A single Redis call may take this long before the request gives up with a 503. */
export const REDIS_TIMEOUT_MS = 800

// Why scripts and not WATCH/MULTI: WATCH state belongs to a connection, and the API shares one ioredis
// connection between all its requests, so one request's WATCH (or its EXEC clearing every WATCH) would
// guard or spoil another's. A script is as atomic as MULTI: Redis runs it without interleaving any other
// client's command, and a full Redis refuses it before its first write.

// A new transaction: its idempotency key, its kue job and its record, all or nothing; or nothing at all
// when the key is taken (the retry is answered with the first transaction) or when the queue holds its
// most already (admission control: the backlog is counted here, in the same atomic step as the write, so
// concurrent requests cannot overshoot the bound). So a record always has its job, and a job always finds
// its record.
//   KEYS[1] transaction:<id>   KEYS[2] idempotency:<user>:<key> (optional)
//   ARGV[1] id   ARGV[2] idempotency TTL in seconds   ARGV[3] queue prefix   ARGV[4] job type
//   ARGV[5] job priority   ARGV[6] the most jobs waiting, active or delayed before new ones are refused
//   ARGV[7] n: how many of the next arguments are the record's fields and values; then the job's fields
//   and values.
//   → {1, job id} when written, {0, the id that owns the key} when the key was taken, {2, backlog} when full
const createScript = `${saveInactiveJobLua}
if #KEYS == 2 then
  local owner = redis.call('GET', KEYS[2])
  if owner then return {0, owner} end
end
local backlog = 0
for _, state in ipairs({'inactive', 'active', 'delayed'}) do
  backlog = backlog + redis.call('ZCARD', ARGV[3] .. ':jobs:' .. ARGV[4] .. ':' .. state)
end
if backlog >= tonumber(ARGV[6]) then return {2, backlog} end
-- The first write: a full Redis refuses it before anything else is written.
if #KEYS == 2 then redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2]) end
local n = tonumber(ARGV[7])
local record, job = {}, {}
for i = 8, 7 + n do record[#record + 1] = ARGV[i] end
for i = 8 + n, #ARGV do job[#job + 1] = ARGV[i] end
local job_id = save_inactive_job(ARGV[3], ARGV[4], ARGV[5], job)
record[#record + 1] = 'job_id'
record[#record + 1] = tostring(job_id)
redis.call('HSET', KEYS[1], unpack(record))
return {1, tostring(job_id)}
`

export interface IdempotencyKeyRef {
  userId: number
  key: string
  ttlSeconds: number
}

export type CreateOutcome =
  /** Written: the record, its job (this id) and the key, if any. */
  | { jobId: string }
  /** Nothing written: the key already names this transaction. */
  | { owner: string }
  /** Nothing written: `backlog` jobs wait already, at least the bound given. */
  | { backlog: number }

const jobArgs = (event: TransactionEvent, nowMs: number): string[] => [
  keys.queuePrefix,
  TRANSACTION_JOB,
  String(TRANSACTION_JOB_PRIORITY),
  ...transactionJobFields(event, nowMs),
]

/**
 * Writes a new transaction: its record (with the job id), its kue job and (if given) its idempotency key,
 * in one atomic step; or nothing, when the key is already taken or `maxBacklog` jobs are queued already.
 */
export async function createTransactionAndJob(
  redis: Redis,
  record: TransactionRecord,
  event: TransactionEvent,
  maxBacklog: number,
  idempotency?: IdempotencyKeyRef,
): Promise<CreateOutcome> {
  const redisKeys = [keys.transaction(record.id)]
  if (idempotency !== undefined) redisKeys.push(keys.idempotency(idempotency.userId, idempotency.key))
  const fields = Object.entries(toHash(record)).flat()
  const [queuePrefix, jobType, priority, ...jobFields] = jobArgs(event, Date.parse(record.created_at))
  const reply = (await withTimeout(
    redis.eval(
      createScript,
      redisKeys.length,
      ...redisKeys,
      record.id,
      String(idempotency?.ttlSeconds ?? 0),
      queuePrefix!,
      jobType!,
      priority!,
      String(maxBacklog),
      String(fields.length),
      ...fields,
      ...jobFields,
    ),
    REDIS_TIMEOUT_MS,
    'create transaction',
  )) as [number, string | number]
  if (reply[0] === 2) return { backlog: Number(reply[1]) }
  return reply[0] === 1 ? { jobId: String(reply[1]) } : { owner: String(reply[1]) }
}

export async function findTransaction(redis: Redis, id: string): Promise<TransactionRecord | undefined> {
  return withTimeout(readTransaction(redis, id), REDIS_TIMEOUT_MS, 'read transaction')
}
