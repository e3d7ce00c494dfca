import { keys } from './keys.ts'
import type { Redis } from './redis.ts'

export type TransactionStatus = 'queued' | 'processing' | 'completed' | 'failed'

/** What one transaction earned, recorded with it once the Loyalty Worker has awarded it. */
export interface LoyaltyAward {
  stamps_awarded: number
  stamps_after: number
  voucher_id?: string
}

/** A transaction as stored in Redis (hash `transaction:<id>`) and as `GET /transactions/:id` shows it. */
export interface TransactionRecord {
  id: string
  user_id: number
  amount: number
  currency: string
  status: TransactionStatus
  created_at: string
  updated_at: string
  job_id?: string
  loyalty?: LoyaltyAward
  error?: string
}

const statuses = new Set<string>(['queued', 'processing', 'completed', 'failed'])

/** Hash fields as Redis stores them: every value a string, loyalty as JSON. */
export function toHash(record: TransactionRecord): Record<string, string> {
  const hash: Record<string, string> = {
    id: record.id,
    user_id: String(record.user_id),
    amount: String(record.amount),
    currency: record.currency,
    status: record.status,
    created_at: record.created_at,
    updated_at: record.updated_at,
  }
  if (record.job_id !== undefined) hash.job_id = record.job_id
  if (record.loyalty !== undefined) hash.loyalty = JSON.stringify(record.loyalty)
  if (record.error !== undefined) hash.error = record.error
  return hash
}

/** The record from its hash, or undefined when the hash is empty or not a transaction. */
export function fromHash(hash: Record<string, string>): TransactionRecord | undefined {
  const { id, user_id, amount, currency, status, created_at, updated_at } = hash
  if (id === undefined || user_id === undefined || amount === undefined || currency === undefined) return undefined
  if (status === undefined || !statuses.has(status) || created_at === undefined) return undefined
  const record: TransactionRecord = {
    id,
    user_id: Number(user_id),
    amount: Number(amount),
    currency,
    status: status as TransactionStatus,
    created_at,
    updated_at: updated_at ?? created_at,
  }
  if (hash.job_id !== undefined) record.job_id = hash.job_id
  if (hash.loyalty !== undefined) record.loyalty = JSON.parse(hash.loyalty) as LoyaltyAward
  if (hash.error !== undefined) record.error = hash.error
  return record
}

export async function readTransaction(redis: Redis, id: string): Promise<TransactionRecord | undefined> {
  return fromHash(await redis.hgetall(keys.transaction(id)))
}
