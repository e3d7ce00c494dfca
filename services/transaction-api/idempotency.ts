// What a request whose Idempotency-Key is already taken should do with the transaction the key names.
// Pure: the caller reads the record and acts on the decision.
import type { TransactionRecord } from '../shared/transactions.ts'
import { NOT_ENQUEUED } from './transaction-store.ts'

export const reusedKeyMessage = 'Idempotency-Key reused with a different request'

export const noLongerKeptMessage = (id: string): string =>
  `Idempotency-Key already used for transaction ${id}, which is no longer kept (TRANSACTION_RETENTION); a new transaction needs a new key`

/**
 * A record still 'queued' without a job id is normally a request between its two writes (record, then
 * job id: milliseconds). Once it is this old, that request has certainly finished (each of its Redis calls
 * times out well within a second), so the job never made it to the queue and a retry may enqueue it.
 */
export const ORPHAN_AFTER_MS = 10_000

export type RetryDecision =
  /** The same request again: answer as the first time, enqueue nothing. */
  | { action: 'replay' }
  /** The key was used for another amount or currency: refuse. */
  | { action: 'mismatch' }
  /** The first attempt failed to enqueue (a 503 was answered): this retry enqueues the same transaction. */
  | { action: 'enqueue-again'; staleUpdatedAt?: string }
  /** The first attempt is still in flight: wait for it, then decide again. */
  | { action: 'wait' }

export function decideRetry(existing: TransactionRecord, request: { amount: number; currency: string }, now: Date): RetryDecision {
  if (existing.amount !== request.amount || existing.currency !== request.currency) return { action: 'mismatch' }
  if (existing.status === 'failed' && existing.error === NOT_ENQUEUED) return { action: 'enqueue-again' }
  if (existing.status === 'queued' && existing.job_id === undefined) {
    const age = now.getTime() - Date.parse(existing.updated_at)
    return age > ORPHAN_AFTER_MS ? { action: 'enqueue-again', staleUpdatedAt: existing.updated_at } : { action: 'wait' }
  }
  return { action: 'replay' }
}
