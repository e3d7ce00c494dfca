import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { HttpError, unavailable, unprocessable, withTimeout } from '../shared/errors.ts'
import type { Logger } from '../shared/logger.ts'
import { enqueueTransaction, type Queue } from '../shared/queue.ts'
import type { Redis } from '../shared/redis.ts'
import type { TransactionEvent } from '../shared/transaction-event.ts'
import type { TransactionRecord } from '../shared/transactions.ts'
import { decideRetry, reusedKeyMessage } from './idempotency.ts'
import {
  claimForEnqueue,
  findTransaction,
  forgetIdempotencyKey,
  type IdempotencyKeyRef,
  insertTransaction,
  markNotEnqueued,
  REDIS_TIMEOUT_MS,
  setJobId,
} from './transaction-store.ts'

export interface CreateTransactionDeps {
  redis: Redis
  queue: Queue
  logger: Logger
  idempotencyTtlSeconds: number
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
 * Stores a transaction and queues it for the Loyalty Worker; resolves only once both are in Redis:
 *   1. the record `transaction:<id>` (status 'queued') and the idempotency key, if any, in one atomic step;
 *   2. the kue job with the event;
 *   3. the job id on the record, sent but not awaited (bookkeeping: the job is already safe, so a failure
 *      here is only logged).
 * With an Idempotency-Key that is already taken, nothing new is written: see retryOf.
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
  if (input.idempotencyKey === undefined) {
    await insertTransaction(deps.redis, record)
    return { record: await enqueue(deps, record, now), replayed: false }
  }
  const ref: IdempotencyKeyRef = { userId: input.userId, key: input.idempotencyKey, ttlSeconds: deps.idempotencyTtlSeconds }
  const deadline = Date.now() + IN_FLIGHT_WAIT_MS
  // Two rounds at most: the second only after a key whose record had vanished was forgotten.
  for (let round = 0; round < 2; round += 1) {
    const owner = await insertTransaction(deps.redis, record, ref)
    if (owner === record.id) return { record: await enqueue(deps, record, now), replayed: false }
    const outcome = await retryOf(deps, owner, input, ref, deadline, now)
    if (outcome !== undefined) return outcome
  }
  throw stillInFlight()
}

/**
 * Answers a request whose Idempotency-Key already names transaction `id`: replays it, refuses a different
 * body, waits for a first attempt still in flight, or (when the first attempt could not enqueue its job
 * and answered 503) enqueues that same transaction now. Undefined when the record is gone: the key is
 * then forgotten so that the caller can create the transaction afresh.
 */
async function retryOf(
  deps: CreateTransactionDeps,
  id: string,
  input: NewTransaction,
  ref: IdempotencyKeyRef,
  deadline: number,
  now: () => Date,
): Promise<CreatedTransaction | undefined> {
  for (;;) {
    const existing = await findTransaction(deps.redis, id)
    if (existing === undefined) {
      deps.logger.warn('idempotency key names a missing transaction, forgetting it', { transaction_id: id })
      await forgetIdempotencyKey(deps.redis, ref, id)
      return undefined
    }
    const decision = decideRetry(existing, input, now())
    if (decision.action === 'mismatch') throw unprocessable(reusedKeyMessage)
    if (decision.action === 'replay') return { record: existing, replayed: true }
    if (decision.action === 'enqueue-again') {
      const at = now().toISOString()
      // Of concurrent retries only one wins the claim; the others look again (and wait for the winner).
      if (await claimForEnqueue(deps.redis, id, decision.staleUpdatedAt, at)) {
        deps.logger.info('enqueueing a transaction again on retry', { transaction_id: id })
        const { error: _error, ...rest } = existing
        return { record: await enqueue(deps, { ...rest, status: 'queued', updated_at: at }, now), replayed: false }
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

/**
 * Steps 2 and 3. When the job cannot be enqueued the client gets a 503 and the record must not stay behind
 * looking 'queued' (nothing would ever process it). It is marked 'failed' with error "not enqueued"
 * rather than deleted: its id stays in the logs and in the idempotency key, so a retry with the same key
 * enqueues this same transaction (not a second one), and if the enqueue only timed out but kue did save
 * the job, the worker still meets one transaction id, not two. Marking is best effort (Redis is likely
 * down too): a record left 'queued' without a job id is recognised as an orphan by ORPHAN_AFTER_MS.
 */
async function enqueue(deps: CreateTransactionDeps, record: TransactionRecord, now: () => Date): Promise<TransactionRecord> {
  let jobId: string
  try {
    jobId = await withTimeout(enqueueTransaction(deps.queue, eventOf(record)), REDIS_TIMEOUT_MS, 'enqueue transaction')
  } catch (err) {
    deps.logger.warn('transaction not enqueued', { transaction_id: record.id, err: errorMessage(err) })
    try {
      await markNotEnqueued(deps.redis, record.id, now().toISOString())
    } catch (markErr) {
      deps.logger.warn('could not mark the transaction as not enqueued', { transaction_id: record.id, err: errorMessage(markErr) })
    }
    throw unavailable()
  }
  // Not awaited: the job is already safe, and waiting for this reply would add a Redis round trip to
  // every request. Later reads of the record go through the same connection, so they see it.
  setJobId(deps.redis, record.id, jobId).catch((err: unknown) => {
    deps.logger.warn('job id not recorded on the transaction', { transaction_id: record.id, job_id: jobId, err: errorMessage(err) })
  })
  return { ...record, job_id: jobId }
}

function errorMessage(err: unknown): string {
  if (err instanceof HttpError && typeof err.cause === 'string') return err.cause
  return err instanceof Error ? err.message : String(err)
}
