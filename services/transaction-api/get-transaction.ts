import { notFound } from '../shared/errors.ts'
import type { Redis } from '../shared/redis.ts'
import { isTransactionId } from './request-validation.ts'
import { findTransaction } from './transaction-store.ts'
import { type TransactionView, transactionView } from './transaction-views.ts'

/**
 * The user's own transaction. Someone else's is a 404 like an unknown or malformed id, so that ids cannot
 * be probed for existence.
 */
export async function getOwnTransaction(redis: Redis, id: string, userId: number): Promise<TransactionView> {
  if (!isTransactionId(id)) throw notFound('Transaction not found')
  const record = await findTransaction(redis, id)
  if (record === undefined || record.user_id !== userId) throw notFound('Transaction not found')
  return transactionView(record)
}
