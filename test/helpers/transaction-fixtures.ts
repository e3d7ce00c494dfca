// A transaction as the Transaction API hands it to the Loyalty Worker: the event (the job's data) and the
// 'queued' record it writes first. For tests that produce work without going through the API.
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { keys } from '../../services/shared/keys.ts'
import type { TransactionEvent } from '../../services/shared/transaction-event.ts'
import { toHash, type TransactionRecord } from '../../services/shared/transactions.ts'

export function transactionEvent(userId: number, overrides: Partial<TransactionEvent> = {}): TransactionEvent {
  return { transaction_id: randomUUID(), user_id: userId, amount: 1250, currency: 'GBP', created_at: new Date().toISOString(), ...overrides }
}

/** Writes the 'queued' record as the Transaction API does (no job yet). */
export async function writeQueuedRecord(client: Redis, event: TransactionEvent): Promise<void> {
  const record: TransactionRecord = {
    id: event.transaction_id,
    user_id: event.user_id,
    amount: event.amount,
    currency: event.currency,
    status: 'queued',
    created_at: event.created_at,
    updated_at: event.created_at,
  }
  await client.hset(keys.transaction(event.transaction_id), toHash(record))
}
