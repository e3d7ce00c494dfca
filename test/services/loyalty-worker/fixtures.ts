import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import type { LoyaltyWorkerConfig } from '../../../services/loyalty-worker/config.ts'
import { keys } from '../../../services/shared/keys.ts'
import { type Queue } from '../../../services/shared/queue/index.ts'
import { enqueueTransaction } from '../../helpers/kue-save.ts'
import type { TransactionEvent } from '../../../services/shared/transaction-event.ts'
import { readTransaction, type TransactionRecord } from '../../../services/shared/transactions.ts'
import { writeQueuedRecord } from '../../helpers/transaction-fixtures.ts'

export { transactionEvent, writeQueuedRecord } from '../../helpers/transaction-fixtures.ts'

export const secret = 'loyalty-worker-test-secret-of-40-chars!!'

/** The default TRANSACTION_RETENTION (24h) in ms. */
export const RETENTION_MS = 86_400_000

export function workerConfig(redisUrl: string, overrides: Partial<LoyaltyWorkerConfig> = {}): LoyaltyWorkerConfig {
  return {
    HTTP_PORT: 0,
    HTTP_HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    JWT_SECRET: secret,
    LOYALTY_STAMPS_PER_VOUCHER: 10,
    LOYALTY_CONCURRENCY: 5,
    LOG_LEVEL: 'debug',
    SHUTDOWN_TIMEOUT_MS: 3000,
    TRANSACTION_RETENTION: '24h',
    REDIS_MEMORY_HIGH_WATER_PERCENT: 90,
    ...overrides,
  }
}

/** Produces a job the way the Transaction API does: the record first, then the job. */
export async function produce(client: Redis, queue: Queue, event: TransactionEvent, job: { ttlMs?: number } = {}): Promise<string> {
  await writeQueuedRecord(client, event)
  const jobId = await enqueueTransaction(queue, event, job)
  await client.hset(keys.transaction(event.transaction_id), 'job_id', jobId)
  return jobId
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

export async function statuses(client: Redis, ids: string[]): Promise<Map<string, TransactionRecord>> {
  const records = new Map<string, TransactionRecord>()
  for (const id of ids) {
    const record = await readTransaction(client, id)
    if (record !== undefined) records.set(id, record)
  }
  return records
}

/** Resolves once every record has the status. */
export function allWithStatus(client: Redis, ids: string[], status: TransactionRecord['status'], timeoutMs?: number): Promise<Map<string, TransactionRecord>> {
  return waitFor(
    `${ids.length} transactions ${status}`,
    async () => {
      const records = await statuses(client, ids)
      return [...records.values()].filter((r) => r.status === status).length === ids.length ? records : undefined
    },
    timeoutMs,
  )
}

export async function loyaltyOf(client: Redis, userId: number): Promise<{ stamps: number; transactions: number; vouchers: number }> {
  const hash = await client.hgetall(keys.loyalty(userId))
  return { stamps: Number(hash.stamps ?? 0), transactions: Number(hash.transactions ?? 0), vouchers: await client.llen(keys.vouchers(userId)) }
}

/** kue's job hash (state, error, attempts), or {} once removed. */
export function jobHash(client: Redis, jobId: string): Promise<Record<string, string>> {
  return client.hgetall(`${keys.queuePrefix}:job:${jobId}`)
}
