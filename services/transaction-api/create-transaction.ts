import { randomUUID } from 'node:crypto'
import { unprocessable } from '../shared/errors.ts'
import type { Logger } from '../shared/logger.ts'
import type { Redis } from '../shared/redis.ts'
import type { TransactionEvent } from '../shared/transaction-event.ts'
import type { TransactionRecord } from '../shared/transactions.ts'
import { type Admission, queueFullByBacklog } from './admission.ts'
import { decideRetry, noLongerKeptMessage, reusedKeyMessage } from './idempotency.ts'
import { createTransactionAndJob, findTransaction, type IdempotencyKeyRef } from './transaction-store.ts'

export interface CreateTransactionDeps {
  redis: Redis
  logger: Logger
  idempotencyTtlSeconds: number
  admission: Admission
  now?: () => Date
}

export interface NewTransaction {
  userId: number
  amount: number
  currency: string
  idempotencyKey?: string | undefined
}

export interface CreatedTransaction {
  record: TransactionRecord
  /** True when this answers a retry of an earlier request (same user and Idempotency-Key). */
  replayed: boolean
}

/**
 * Stores a transaction and queues it for the Loyalty Worker: the record `transaction:<id>` (status
 * 'queued', with its job id), the kue job with the event and the idempotency key, if any, in one atomic
 * step (one Redis round trip). With an Idempotency-Key that is already taken, nothing new is written:
 * see retryOf.
 */
export async function createTransaction(deps: CreateTransactionDeps, input: NewTransaction): Promise<CreatedTransaction> {
  const now = deps.now ?? (() => new Date())
  const at = now().toISOString()
  const record: TransactionRecord = {
    id: randomUUID(),
    user_id: input.userId,
    amount: input.amount,
    currency: input.currency,
    status: 'queued',
    created_at: at,
    updated_at: at,
  }
  const ref: IdempotencyKeyRef | undefined =
    input.idempotencyKey === undefined ? undefined : { userId: input.userId, key: input.idempotencyKey, ttlSeconds: deps.idempotencyTtlSeconds }
  const maxBacklog = deps.admission.admit()
  const outcome = await createTransactionAndJob(deps.redis, record, eventOf(record), maxBacklog, ref)
  if ('backlog' in outcome) throw queueFullByBacklog(outcome.backlog, maxBacklog)
  if ('jobId' in outcome) return { record: { ...record, job_id: outcome.jobId }, replayed: false }
  return retryOf(deps, outcome.owner, input)
}

/**
 * Answers a request whose Idempotency-Key already names transaction `id`: replays it, or refuses a
 * different body. A record that is gone was finished and has passed its retention (or was trimmed under
 * memory pressure): the transaction was made, so making it again would be a duplicate; 422 says so.
 */
async function retryOf(deps: CreateTransactionDeps, id: string, input: NewTransaction): Promise<CreatedTransaction> {
  const existing = await findTransaction(deps.redis, id)
  if (existing === undefined) throw unprocessable(noLongerKeptMessage(id))
  if (decideRetry(existing, input).action === 'mismatch') throw unprocessable(reusedKeyMessage)
  return { record: existing, replayed: true }
}

const eventOf = (record: TransactionRecord): TransactionEvent => ({
  transaction_id: record.id,
  user_id: record.user_id,
  amount: record.amount,
  currency: record.currency,
  created_at: record.created_at,
})
