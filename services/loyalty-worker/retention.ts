import type { Logger } from '../shared/logger.ts'
import type { Redis } from '../shared/redis.ts'
import { repeatEvery } from '../shared/repeat.ts'
import { isAbove, readRedisMemory } from '../shared/redis-memory.ts'
import { keys } from '../shared/keys.ts'

// Finished transaction records (completed or failed) expire by themselves after TRANSACTION_RETENTION
// (award.ts sets their PEXPIRE). The sweep does two more things, from the list of finished ids (oldest
// first):
// - drops the ids whose record has expired, so the list does not outgrow the records;
// - when Redis's memory is above the trim mark, deletes the oldest finished records before their time, so
//   that a load test of millions of transactions cannot fill Redis with records kept for a day and make
//   the Transaction API refuse new ones until they expire. Queued records, jobs, users' stamps and
//   vouchers and idempotency keys are never touched, nor is a finished record whose kue job may still be
//   delivered again (its job still inactive, active or delayed: an award whose "complete" kue could not
//   record, while Redis was full, is retried after the job's TTL, and must find its record to know it is
//   done); the sweep stops at such a record until its job is done.

// KEYS[1] the finished list. ARGV[1] how many ids to look at, at most. ARGV[2] '1': delete finished
// records too (memory pressure), '0': only drop ids whose record is gone. ARGV[3] the record key prefix.
// ARGV[4] kue's key prefix. → {records deleted, ids dropped}
const sweepScript = `
local deleted, dropped = 0, 0
for _ = 1, tonumber(ARGV[1]) do
  local id = redis.call('LINDEX', KEYS[1], 0)
  if not id then break end
  local key = ARGV[3] .. id
  local record = redis.call('HMGET', key, 'status', 'job_id')
  local status, job = record[1], record[2]
  local pending = false
  if job then
    local state = redis.call('HGET', ARGV[4] .. ':job:' .. job, 'state')
    pending = state == 'inactive' or state == 'active' or state == 'delayed'
  end
  if not status then
    dropped = dropped + 1
    redis.call('LPOP', KEYS[1])
  elseif ARGV[2] == '1' and pending then
    -- Its job may run again (for seconds: until its TTL retries it): kept, and the sweep waits for it.
    -- Nothing here may grow memory (a full Redis refuses LMOVE and the like), so it stays at the head.
    break
  elseif ARGV[2] == '1' and (status == 'completed' or status == 'failed') then
    redis.call('DEL', key)
    deleted = deleted + 1
    redis.call('LPOP', KEYS[1])
  elseif ARGV[2] == '1' then
    -- Taken back to 'queued' since (a retry): it joins the list again when it finishes.
    dropped = dropped + 1
    redis.call('LPOP', KEYS[1])
  else
    break
  end
end
return {deleted, dropped}
`

interface SweepCommand {
  yoyoSweepFinished(list: string, count: string, trim: string, recordPrefix: string, queuePrefix: string): Promise<[number, number]>
}

/** Adds the sweep script to a client as a command; sweepFinishedRecords adds it if it is not there yet. */
export function defineSweepFinishedCommand<R extends Redis>(redis: R): R & SweepCommand {
  if (!('yoyoSweepFinished' in redis)) redis.defineCommand('yoyoSweepFinished', { numberOfKeys: 1, lua: sweepScript })
  return redis as R & SweepCommand
}

/**
 * The sweep trims this many percentage points below REDIS_MEMORY_HIGH_WATER_PERCENT, where the Transaction
 * API starts refusing: finished records go before any new transaction is refused.
 */
export const TRIM_POINTS_BELOW_HIGH_WATER = 10

/** Ids looked at per script call: each call blocks Redis for well under a millisecond. */
const SWEEP_BATCH = 500
/** Calls per sweep at most while memory is above the trim mark: up to 20,000 records a sweep. */
const MAX_TRIM_BATCHES = 40

export interface SweepResult {
  deleted: number
  dropped: number
}

/**
 * One sweep: while memory is above `trimPercent` of maxmemory, deletes the oldest finished records; then
 * drops the ids of records that have expired.
 */
export async function sweepFinishedOnce(redis: Redis, trimPercent: number): Promise<SweepResult> {
  const command = defineSweepFinishedCommand(redis)
  const total = { deleted: 0, dropped: 0 }
  const run = async (trim: boolean): Promise<number> => {
    const [deleted, dropped] = await command.yoyoSweepFinished(keys.finishedTransactions, String(SWEEP_BATCH), trim ? '1' : '0', keys.transaction(''), keys.queuePrefix)
    total.deleted += deleted
    total.dropped += dropped
    return deleted + dropped
  }
  for (let batch = 0; batch < MAX_TRIM_BATCHES && isAbove(await readRedisMemory(redis), trimPercent); batch++) {
    if ((await run(true)) === 0) break
  }
  while ((await run(false)) === SWEEP_BATCH);
  return total
}

/** Sweeps now and every `intervalMs`; returns a function that stops it. */
export function sweepFinishedRecords(redis: Redis, options: { intervalMs: number; trimPercent: number; logger: Logger }): () => void {
  const { intervalMs, trimPercent, logger } = options
  return repeatEvery(
    intervalMs,
    async () => {
      const { deleted } = await sweepFinishedOnce(redis, trimPercent)
      if (deleted > 0) logger.warn({ deleted, trim_percent: trimPercent }, 'redis memory above the trim mark: deleted the oldest finished transaction records before their retention')
    },
    { logger, failure: 'finished transactions sweep failed' },
  )
}
