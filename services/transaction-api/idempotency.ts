// What a request whose Idempotency-Key is already taken gets: the first answer again, or a refusal.
// Pure: the caller reads the record and acts on the decision.
import type { TransactionRecord } from '../shared/transactions.ts'

export const reusedKeyMessage = 'Idempotency-Key reused with a different request'

export const noLongerKeptMessage = (id: string): string =>
  `Idempotency-Key already used for transaction ${id}, which is no longer kept (TRANSACTION_RETENTION); a new transaction needs a new key`

export type RetryDecision =
  /** The same request again: answer as the first time, enqueue nothing. */
  | { action: 'replay' }
  /** The key was used for another amount or currency: refuse. */
  | { action: 'mismatch' }

/**
 * The record, its job and its key are written in one script, so a key always finds a record that has its
 * job: the only question is whether the request is the same.
 */
export function decideRetry(existing: TransactionRecord, request: { amount: number; currency: string }): RetryDecision {
  return existing.amount !== request.amount || existing.currency !== request.currency ? { action: 'mismatch' } : { action: 'replay' }
}
