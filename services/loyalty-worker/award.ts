import { keys } from '../shared/keys.ts'
import type { Redis } from '../shared/redis.ts'
import type { LoyaltyAward } from '../shared/transactions.ts'
import { firstPage, type VoucherPage } from './voucher-page.ts'

/**
 * The award, atomic and idempotent per transaction: the queue delivers a job at least once (retries,
 * a TTL-expired job retried while its first run still finishes, a crash between awarding and
 * acknowledging, a replayed job), so "already awarded?" and "award" must be one step in Redis.
 * The transaction record's status is the idempotency marker: once it is 'completed' the script only
 * reads. The rule is test/services/loyalty-worker/loyalty-rule.ts's earnStamp, the readable spec this Lua is tested against.
 *
 * Once awarded, the record is kept for the retention only (PEXPIRE) and its id joins the list of
 * finished transactions, oldest first, which the retention sweep trims (retention.ts). The user's loyalty
 * hash and vouchers have no expiry: they are the user's account.
 *
 * KEYS: transaction:<id>, loyalty:<user_id>, loyalty:<user_id>:vouchers, the finished transactions list
 * ARGV: transaction id, user id, stamps per voucher, candidate voucher id, now (ISO 8601), retention (ms)
 * Returns JSON: {"outcome": "awarded"|"already_awarded", "loyalty": "<LoyaltyAward JSON>"} or {"error": code}.
 *
 * The first write is the HINCRBY: if Redis refuses writes (OOM, READONLY) the script fails before
 * changing anything, so a failed call never leaves half an award.
 */
const awardScript = `
local record = redis.call('HMGET', KEYS[1], 'status', 'user_id', 'loyalty')
local status, owner, loyalty = record[1], record[2], record[3]
if not status then return cjson.encode({error = 'not_found'}) end
if owner ~= ARGV[2] then return cjson.encode({error = 'user_mismatch'}) end
if status == 'completed' then return cjson.encode({outcome = 'already_awarded', loyalty = loyalty or '{}'}) end

local per_voucher = tonumber(ARGV[3])
-- Every check comes before the first write: Redis does not roll a script back when it errors midway.
if not per_voucher or per_voucher < 1 then return redis.error_reply('stamps per voucher must be a positive integer') end
local stamps = redis.call('HINCRBY', KEYS[2], 'stamps', 1)
redis.call('HINCRBY', KEYS[2], 'transactions', 1)
local voucher_field = ''
-- At most one voucher per transaction, as in the rule's spec (test/services/loyalty-worker/loyalty-rule.ts).
if stamps >= per_voucher then
  stamps = redis.call('HINCRBY', KEYS[2], 'stamps', -per_voucher)
  redis.call('RPUSH', KEYS[3], '{"id":' .. cjson.encode(ARGV[4]) .. ',"issued_at":' .. cjson.encode(ARGV[5])
    .. ',"transaction_id":' .. cjson.encode(ARGV[1]) .. '}')
  voucher_field = ',"voucher_id":' .. cjson.encode(ARGV[4])
end
-- Written by hand rather than with cjson.encode(table) to keep the fields in a stable order.
loyalty = '{"stamps_awarded":1,"stamps_after":' .. stamps .. voucher_field .. '}'
redis.call('HSET', KEYS[1], 'status', 'completed', 'updated_at', ARGV[5], 'loyalty', loyalty)
redis.call('HDEL', KEYS[1], 'error')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('RPUSH', KEYS[4], ARGV[1])
return cjson.encode({outcome = 'awarded', loyalty = loyalty})
`

// 'queued' → 'processing' so GET /transactions/:id shows the job was picked up; any other status is
// left alone (a retried job must not move a 'completed' record back). ARGV: now.
const markProcessingScript = `
if redis.call('HGET', KEYS[1], 'status') == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'processing', 'updated_at', ARGV[1])
  return 1
end
return 0
`

// A job that gave up marks its record 'failed', unless another delivery completed it, and never
// creates a record that is not there. A failed record is kept for the retention, like a completed one.
// KEYS: transaction:<id>, the finished transactions list. ARGV: error message, now, retention (ms), id.
const markFailedScript = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'completed' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[1], 'updated_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if status ~= 'failed' then redis.call('RPUSH', KEYS[2], ARGV[4]) end
return 1
`

interface LoyaltyCommands {
  yoyoAwardLoyalty(
    record: string,
    loyalty: string,
    vouchers: string,
    finished: string,
    transactionId: string,
    userId: string,
    perVoucher: string,
    voucherId: string,
    now: string,
    retentionMs: string,
  ): Promise<string>
  yoyoMarkProcessing(record: string, now: string): Promise<number>
  yoyoMarkFailed(record: string, finished: string, error: string, now: string, retentionMs: string, transactionId: string): Promise<number>
}

export type LoyaltyRedis = Redis & LoyaltyCommands

/** Adds the scripts to a client as commands (EVALSHA, falling back to EVAL once per connection). */
export function defineLoyaltyCommands(redis: Redis): LoyaltyRedis {
  redis.defineCommand('yoyoAwardLoyalty', { numberOfKeys: 4, lua: awardScript })
  redis.defineCommand('yoyoMarkProcessing', { numberOfKeys: 1, lua: markProcessingScript })
  redis.defineCommand('yoyoMarkFailed', { numberOfKeys: 2, lua: markFailedScript })
  return redis as LoyaltyRedis
}

export type AwardResult =
  | { outcome: 'awarded' | 'already_awarded'; loyalty: LoyaltyAward }
  | { error: 'not_found' | 'user_mismatch' }

export interface AwardRequest {
  transactionId: string
  userId: number
  stampsPerVoucher: number
  /** Used only if this transaction completes a card; a fresh one per call is fine. */
  voucherId: string
  now: Date
  /** How long the finished record is kept (TRANSACTION_RETENTION). */
  retentionMs: number
}

export async function awardLoyalty(redis: LoyaltyRedis, request: AwardRequest): Promise<AwardResult> {
  const { transactionId, userId, stampsPerVoucher, voucherId, now, retentionMs } = request
  const reply = await redis.yoyoAwardLoyalty(
    keys.transaction(transactionId),
    keys.loyalty(userId),
    keys.vouchers(userId),
    keys.finishedTransactions,
    transactionId,
    String(userId),
    String(stampsPerVoucher),
    voucherId,
    now.toISOString(),
    String(retentionMs),
  )
  const parsed = JSON.parse(reply) as { outcome?: 'awarded' | 'already_awarded'; loyalty?: string; error?: 'not_found' | 'user_mismatch' }
  if (parsed.error !== undefined) return { error: parsed.error }
  return { outcome: parsed.outcome ?? 'awarded', loyalty: JSON.parse(parsed.loyalty ?? '{}') as LoyaltyAward }
}

/** Returns whether the record moved from 'queued' to 'processing'. */
export async function markProcessing(redis: LoyaltyRedis, transactionId: string, now: Date): Promise<boolean> {
  return (await redis.yoyoMarkProcessing(keys.transaction(transactionId), now.toISOString())) === 1
}

/** Returns whether the record was marked 'failed' (false when missing or already completed); it is kept for `retentionMs`. */
export async function markFailed(redis: LoyaltyRedis, transactionId: string, error: string, now: Date, retentionMs: number): Promise<boolean> {
  return (await redis.yoyoMarkFailed(keys.transaction(transactionId), keys.finishedTransactions, error, now.toISOString(), String(retentionMs), transactionId)) === 1
}

export interface Voucher {
  id: string
  issued_at: string
  transaction_id: string
}

export interface LoyaltyAccount {
  user_id: number
  stamps: number
  /** One page of vouchers, oldest first. */
  vouchers: Voucher[]
  /** All the user's vouchers, on every page. */
  vouchers_total: number
  /** The cursor of the next page, null on the last one. */
  next_cursor: string | null
  transactions: number
}

/**
 * A user's stamps, one page of vouchers, their total and the transaction count, read in one MULTI so
 * they agree with each other. Only the page is read: LRANGE costs the page plus the walk to its start.
 */
export async function readLoyalty(redis: Redis, userId: number, page: VoucherPage = firstPage): Promise<LoyaltyAccount> {
  const { start, limit } = page
  const replies = await redis
    .multi()
    .hgetall(keys.loyalty(userId))
    .llen(keys.vouchers(userId))
    .lrange(keys.vouchers(userId), start, start + limit - 1)
    .exec()
  if (replies === null) throw new Error('loyalty read was aborted')
  for (const [err] of replies) if (err) throw err
  const [[, hash], [, total], [, list]] = replies as [[null, Record<string, string>], [null, number], [null, string[]]]
  const next = start + list.length
  return {
    user_id: userId,
    stamps: Number(hash.stamps ?? 0),
    vouchers: list.map((entry) => {
      const { id, issued_at, transaction_id } = JSON.parse(entry) as Voucher
      return { id, issued_at, transaction_id }
    }),
    vouchers_total: total,
    next_cursor: list.length > 0 && next < total ? String(next) : null,
    transactions: Number(hash.transactions ?? 0),
  }
}
