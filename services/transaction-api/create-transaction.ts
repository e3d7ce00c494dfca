import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { HttpError, unprocessable } from '../shared/errors.ts'
import type { Logger } from '../shared/logger.ts'
import type { Redis } from '../shared/redis.ts'
import type { TransactionEvent } from '../shared/transaction-event.ts'
import type { TransactionRecord } from '../shared/transactions.ts'
import { type Admission, queueFullByBacklog } from './admission.ts'
import { decideRetry, noLongerKeptMessage, reusedKeyMessage } from './idempotency.ts'
import { createTransactionAndJob, enqueueExisting, findTransaction, type IdempotencyKeyRef } from './transaction-store.ts'

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

// A retry that finds the first attempt still in flight waits this long for it, polling, then gives up.
const IN_FLIGHT_WAIT_MS = 2000
const IN_FLIGHT_POLL_MS = 25

const stillInFlight = (): HttpError =>
  new HttpError(409, 'A request with this Idempotency-Key is still in progress, retry shortly', { 'Retry-After': '1' })

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
  return retryOf(deps, outcome.owner, input, Date.now() + IN_FLIGHT_WAIT_MS, now)
}

/**
 * Answers a request whose Idempotency-Key already names transaction `id`: replays it, or refuses a
 * different body. A record without a job can only come from an earlier version, which wrote the record and
 * the job in two steps: it waits for such a first attempt still in flight, or (when that attempt could not
 * enqueue its job and answered 503) enqueues the same transaction now. A record that is gone was finished
 * and has passed its retention (or was trimmed under memory pressure): the transaction was made, so making
 * it again would be a duplicate; 422 says so.
 */
async function retryOf(deps: CreateTransactionDeps, id: string, input: NewTransaction, deadline: number, now: () => Date): Promise<CreatedTransaction> {
  for (;;) {
    const existing = await findTransaction(deps.redis, id)
    if (existing === undefined) throw unprocessable(noLongerKeptMessage(id))
    const decision = decideRetry(existing, input, now())
    if (decision.action === 'mismatch') throw unprocessable(reusedKeyMessage)
    if (decision.action === 'replay') return { record: existing, replayed: true }
    if (decision.action === 'enqueue-again') {
      const at = now()
      // Of concurrent retries only one wins; the others look again (and find it queued: a replay).
      const jobId = await enqueueExisting(deps.redis, existing, eventOf(existing), decision.staleUpdatedAt, at)
      if (jobId !== undefined) {
        deps.logger.info('enqueueing a transaction again on retry', { transaction_id: id, job_id: jobId })
        const { error: _error, ...rest } = existing
        return { record: { ...rest, status: 'queued', updated_at: at.toISOString(), job_id: jobId }, replayed: false }
      }
    }
    if (Date.now() >= deadline) throw stillInFlight()
    if (decision.action === 'wait') await sleep(IN_FLIGHT_POLL_MS)
  }
}

const eventOf = (record: TransactionRecord): TransactionEvent => ({
  transaction_id: record.id,
  user_id: record.user_id,
  amount: record.amount,
  currency: record.currency,
  created_at: record.created_at,
})
