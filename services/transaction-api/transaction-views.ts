import type { LoyaltyAward, TransactionRecord, TransactionStatus } from '../shared/transactions.ts'

/** The body of a 202 from `POST /transactions`. */
export interface AcceptedTransaction {
  id: string
  user_id: number
  amount: number
  currency: string
  status: 'queued'
}

/** The body of `GET /transactions/:id`: the record without its internals (job id, error detail). */
export interface TransactionView {
  id: string
  user_id: number
  amount: number
  currency: string
  status: TransactionStatus
  created_at: string
  updated_at: string
  loyalty?: LoyaltyAward
}

// A replay answers exactly as the first response did ("queued" when accepted), even if the worker has
// moved the record on since: the Location header is where the current state is.
export const acceptedView = (record: TransactionRecord): AcceptedTransaction => ({
  id: record.id,
  user_id: record.user_id,
  amount: record.amount,
  currency: record.currency,
  status: 'queued',
})

export function transactionView(record: TransactionRecord): TransactionView {
  const view: TransactionView = {
    id: record.id,
    user_id: record.user_id,
    amount: record.amount,
    currency: record.currency,
    status: record.status,
    created_at: record.created_at,
    updated_at: record.updated_at,
  }
  if (record.loyalty !== undefined) view.loyalty = record.loyalty
  return view
}
