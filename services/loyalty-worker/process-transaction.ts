import { randomUUID } from 'node:crypto'
import type { Logger } from '../shared/logger.ts'
import type { Job } from '../shared/queue/index.ts'
import { isTransactionEvent, type TransactionEvent } from '../shared/transaction-event.ts'
import type { LoyaltyAward } from '../shared/transactions.ts'
import { awardLoyalty, markFailed, markProcessing, type LoyaltyRedis } from './award.ts'

/** A failure that no retry can fix (bad job data, no such record): the job fails at once. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError'
}

export interface TransactionProcessor {
  redis: LoyaltyRedis
  stampsPerVoucher: number
  /** How long a finished transaction record is kept (TRANSACTION_RETENTION). */
  retentionMs: number
  logger: Logger
  /** Runs after a job is validated, before its award. Tests slow jobs down with it. */
  beforeAward?: (event: TransactionEvent) => Promise<void>
}

function describeInvalid(): string {
  const problems = (isTransactionEvent.errors ?? []).map((e) => `${e.instancePath || 'data'} ${e.message ?? 'is invalid'}`)
  return `invalid job data: ${problems.join('; ') || 'not a transaction event'}`
}

/** Awards one transaction job's stamp (and voucher), exactly once however often the job is delivered. */
export async function processTransaction(data: unknown, deps: TransactionProcessor): Promise<{ outcome: 'awarded' | 'already_awarded'; loyalty: LoyaltyAward }> {
  if (!isTransactionEvent(data)) throw new PermanentJobError(describeInvalid())
  const { redis, stampsPerVoucher, retentionMs } = deps
  await markProcessing(redis, data.transaction_id, new Date())
  await deps.beforeAward?.(data)
  const result = await awardLoyalty(redis, {
    transactionId: data.transaction_id,
    userId: data.user_id,
    stampsPerVoucher,
    voucherId: randomUUID(),
    now: new Date(),
    retentionMs,
  })
  if ('error' in result) {
    throw new PermanentJobError(
      result.error === 'not_found' ? 'transaction record not found' : "job user_id does not match the transaction record's user_id",
    )
  }
  return result
}

// kue keeps these on the job it hands to the worker; @types/kue does not declare them.
interface JobAttempts {
  _attempts?: number
  _max_attempts?: number
}

/** The transaction id of a job's data if it has a well-formed one, even when the rest is invalid. */
function transactionIdOf(data: unknown): string | undefined {
  const id = (data as { transaction_id?: unknown } | null)?.transaction_id
  return typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id) ? id : undefined
}

/**
 * The kue handler: runs processTransaction and reports to kue. Each failure is logged with the job id,
 * transaction id and attempt; kue retries with the job's backoff until its attempts run out, and the
 * last failure marks the transaction record 'failed'. Permanent failures skip the remaining attempts.
 */
export function transactionJobHandler(deps: TransactionProcessor): (job: Job, done: (err?: Error | null, result?: unknown) => void) => void {
  const { logger, redis } = deps

  const handle = async (job: Job): Promise<LoyaltyAward> => {
    const { _attempts, _max_attempts } = job as unknown as JobAttempts
    const attempt = (Number.isFinite(_attempts) ? Number(_attempts) : 0) + 1
    const maxAttempts = Number.isFinite(_max_attempts) ? Number(_max_attempts) : 1
    const transactionId = transactionIdOf(job.data)
    const log = logger.child({ job_id: String(job.id), transaction_id: transactionId })
    try {
      const { outcome, loyalty } = await processTransaction(job.data, deps)
      if (outcome === 'already_awarded') log.info({ attempt }, 'transaction already awarded, duplicate delivery ignored')
      else log.info({ attempt, user_id: (job.data as TransactionEvent).user_id, ...loyalty }, 'transaction awarded')
      return loyalty
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err))
      const permanent = error instanceof PermanentJobError
      // kue computes the attempts left from this in-memory maximum: lowering it to this attempt makes
      // this failure the last, so a job that cannot succeed does not wait out its backoff.
      if (permanent) job.attempts(attempt)
      const fields = { attempt, max_attempts: permanent ? attempt : maxAttempts, error: error.message }
      if (!permanent && attempt < maxAttempts) {
        log.warn(fields, 'transaction job failed, will retry')
        throw error
      }
      log.error(fields, 'transaction job failed for good')
      if (transactionId !== undefined) {
        try {
          await markFailed(redis, transactionId, error.message, new Date(), deps.retentionMs)
        } catch (markErr) {
          log.error({ err: markErr }, 'could not mark the transaction failed')
        }
      }
      throw error
    }
  }

  return (job, done) => {
    handle(job).then(
      (loyalty) => done(null, loyalty),
      (err: Error) => done(err),
    )
  }
}
