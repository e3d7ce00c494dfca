// The Transaction API's writes to Redis. Each is one atomic step (a MULTI-like Lua script: Redis runs
// it without interleaving any other client's command) and each is bounded by a timeout so that a hung
// Redis turns into a 503, never a hung request.
import { withTimeout } from '../shared/errors.ts'
import { keys } from '../shared/keys.ts'
import type { Redis } from '../shared/redis.ts'
import { readTransaction, type TransactionRecord, toHash } from '../shared/transactions.ts'

/** A single Redis call may take this long before the request gives up with a 503. */
export const REDIS_TIMEOUT_MS = 800

/** The error recorded on a transaction whose job could not be put on the queue. */
export const NOT_ENQUEUED = 'not enqueued'

// Why a script and not WATCH/MULTI: WATCH state belongs to a connection, and the API shares one ioredis
// connection between all its requests, so one request's WATCH (or its EXEC clearing every WATCH) would
// guard or spoil another's. The script has SET NX semantics and is as atomic as MULTI: the record and its
// idempotency key are written together or not at all, and of two concurrent requests with one key only
// the first writes; the second gets the first one's transaction id.
//   KEYS[1] transaction:<id>   KEYS[2] idempotency:<user>:<key> (optional)
//   ARGV[1] id   ARGV[2] idempotency TTL in seconds   ARGV[3..] the record's hash fields and values
const insertScript = `
if #KEYS == 2 then
  if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then
    return redis.call('GET', KEYS[2])
  end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
return ARGV[1]
`

// A record still 'queued' and without a job id is one whose job never made it to the queue: fail it.
//   ARGV[1] error   ARGV[2] updated_at
const markNotEnqueuedScript = `
local h = redis.call('HMGET', KEYS[1], 'status', 'job_id')
if h[1] == 'queued' and not h[2] then
  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[1], 'updated_at', ARGV[2])
  return 1
end
return 0
`

// Takes a record back to 'queued' so that its job can be enqueued again, if it is (a) failed as not
// enqueued, or (b) a stale 'queued' record without a job id whose updated_at is still the one the caller
// saw (an empty ARGV[2] disables (b)). Only one of several concurrent callers wins: the winner's write
// changes what the others compare against.
//   ARGV[1] NOT_ENQUEUED   ARGV[2] the stale updated_at, or ''   ARGV[3] the new updated_at
const claimScript = `
local h = redis.call('HMGET', KEYS[1], 'status', 'error', 'job_id', 'updated_at')
local notEnqueued = h[1] == 'failed' and h[2] == ARGV[1]
local stale = ARGV[2] ~= '' and h[1] == 'queued' and not h[3] and h[4] == ARGV[2]
if notEnqueued or stale then
  redis.call('HSET', KEYS[1], 'status', 'queued', 'updated_at', ARGV[3])
  redis.call('HDEL', KEYS[1], 'error')
  return 1
end
return 0
`

// Forgets an idempotency key only while it still names `id` (a key whose record is gone).
const forgetKeyScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

export interface IdempotencyKeyRef {
  userId: number
  key: string
  ttlSeconds: number
}

/**
 * Writes a new record and (if given) its idempotency key in one step. Returns the id of the transaction
 * that now owns the key: `record.id` when this call wrote it, another id when the key was already taken.
 */
export async function insertTransaction(redis: Redis, record: TransactionRecord, idempotency?: IdempotencyKeyRef): Promise<string> {
  const redisKeys = [keys.transaction(record.id)]
  if (idempotency !== undefined) redisKeys.push(keys.idempotency(idempotency.userId, idempotency.key))
  const fields = Object.entries(toHash(record)).flat()
  const ttl = String(idempotency?.ttlSeconds ?? 0)
  const owner = await withTimeout(redis.eval(insertScript, redisKeys.length, ...redisKeys, record.id, ttl, ...fields), REDIS_TIMEOUT_MS, 'insert transaction')
  return String(owner)
}

export async function findTransaction(redis: Redis, id: string): Promise<TransactionRecord | undefined> {
  return withTimeout(readTransaction(redis, id), REDIS_TIMEOUT_MS, 'read transaction')
}

export async function setJobId(redis: Redis, id: string, jobId: string): Promise<void> {
  await withTimeout(redis.hset(keys.transaction(id), 'job_id', jobId), REDIS_TIMEOUT_MS, 'set job id')
}

/** Fails a record whose job could not be enqueued; false when it had moved on (or was not there). */
export async function markNotEnqueued(redis: Redis, id: string, now: string): Promise<boolean> {
  const changed = await withTimeout(redis.eval(markNotEnqueuedScript, 1, keys.transaction(id), NOT_ENQUEUED, now), REDIS_TIMEOUT_MS, 'mark not enqueued')
  return changed === 1
}

/** Takes a record back to 'queued' to enqueue it again; true for the one caller that won it. */
export async function claimForEnqueue(redis: Redis, id: string, staleUpdatedAt: string | undefined, now: string): Promise<boolean> {
  const claimed = await withTimeout(
    redis.eval(claimScript, 1, keys.transaction(id), NOT_ENQUEUED, staleUpdatedAt ?? '', now),
    REDIS_TIMEOUT_MS,
    'claim transaction',
  )
  return claimed === 1
}

export async function forgetIdempotencyKey(redis: Redis, ref: Omit<IdempotencyKeyRef, 'ttlSeconds'>, id: string): Promise<void> {
  await withTimeout(redis.eval(forgetKeyScript, 1, keys.idempotency(ref.userId, ref.key), id), REDIS_TIMEOUT_MS, 'forget idempotency key')
}
