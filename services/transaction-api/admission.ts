// Admission control: the Transaction API stops taking new transactions while the queue holds its most, or
// while Redis's memory is above its high-water mark, so that Redis never reaches maxmemory through our
// writes. A full Redis (noeviction) refuses kue's MULTI that moves a job to 'active', so workers could
// not drain and free memory: the platform would stay wedged. The room kept below maxmemory is what the
// workers need to drain everything accepted (each job done frees more than it takes) and what logins and
// reads need. Figures: docs/reliability.md.
import { HttpError, withTimeout } from '../shared/errors.ts'
import type { Redis } from '../shared/redis.ts'
import { isAbove, markOf, memoryGauge, type RedisMemory } from '../shared/redis-memory.ts'
import { backlogOf } from '../shared/queue/transaction-job.ts'

/**
 * What one queued transaction holds in Redis: its record, its kue job hash and its entries in kue's
 * sorted sets (measured with an Idempotency-Key: docs/reliability.md, "Bytes per transaction").
 */
export const QUEUED_TRANSACTION_BYTES = 2100

/** The share of maxmemory the derived backlog bound may fill with queued transactions. */
export const BACKLOG_SHARE_OF_MAXMEMORY = 0.5

/** The bound when Redis has no maxmemory (nothing to derive it from). */
export const UNLIMITED_REDIS_BACKLOG = 100_000

// Memory is read at most this often per process (INFO costs Redis more than the write itself); a reading
// older than the second figure (after an idle spell) is not trusted, and only the backlog bound applies
// until the next one. At the platform's top rate, 250 ms of transactions are about 2 MB: the room kept
// below maxmemory is many times that.
const MEMORY_MAX_AGE_MS = 250
const MEMORY_FORGET_AFTER_MS = 2000

export interface AdmissionSettings {
  /** QUEUE_MAX_BACKLOG; undefined: derived from maxmemory. */
  maxBacklog: number | undefined
  /** REDIS_MEMORY_HIGH_WATER_PERCENT. */
  highWaterPercent: number
}

/** QUEUE_MAX_BACKLOG's default: as many queued transactions as fill half of maxmemory. */
export function derivedBacklogBound(maxmemory: number): number {
  return maxmemory > 0 ? Math.max(1, Math.floor((maxmemory * BACKLOG_SHARE_OF_MAXMEMORY) / QUEUED_TRANSACTION_BYTES)) : UNLIMITED_REDIS_BACKLOG
}

export const queueFullByBacklog = (backlog: number, maxBacklog: number): HttpError =>
  new HttpError(503, `Queue full: ${backlog} transactions are waiting to be processed (the most the platform queues is ${maxBacklog}); retry later`, {
    'Retry-After': '2',
  })

export const queueFullByMemory = (percent: number): HttpError =>
  new HttpError(503, `Queue full: Redis memory is above its high-water mark (${percent} % of maxmemory), the rest is kept for processing what is queued; retry later`, {
    'Retry-After': '2',
  })

// A type, not an interface: /health spreads it into its JSON (an index signature).
export type AdmissionState = {
  accepting: boolean
  /** Why not, when not accepting. */
  shedding?: string
  queue: { backlog: number; max_backlog: number }
  redis_memory?: { used: number; max: number; high_water: number }
}

export interface Admission {
  /** Throws the 503 while memory is above the mark; else the backlog bound the write script enforces. */
  admit(): number
  /** For /health: the backlog, the memory and whether new transactions are taken now. */
  state(): Promise<AdmissionState>
}

export function createAdmission(redis: Redis, settings: AdmissionSettings): Admission {
  const gauge = memoryGauge(redis, { maxAgeMs: MEMORY_MAX_AGE_MS, forgetAfterMs: MEMORY_FORGET_AFTER_MS })
  const boundFor = (memory: RedisMemory | undefined): number => settings.maxBacklog ?? derivedBacklogBound(memory?.max ?? 0)
  return {
    admit() {
      const memory = gauge.latest()
      // Unreadable memory (Redis down) sheds nothing here: the write fails and answers 503 by itself.
      if (memory !== undefined && isAbove(memory, settings.highWaterPercent)) throw queueFullByMemory(settings.highWaterPercent)
      return boundFor(memory)
    },
    async state() {
      const [memory, backlog] = await Promise.all([gauge.fresh(), withTimeout(backlogOf(redis), 1000, 'queue backlog')])
      const maxBacklog = boundFor(memory)
      const state: AdmissionState = { accepting: true, queue: { backlog, max_backlog: maxBacklog } }
      if (memory !== undefined) state.redis_memory = { used: memory.used, max: memory.max, high_water: markOf(memory, settings.highWaterPercent) }
      if (backlog >= maxBacklog) return { ...state, accepting: false, shedding: queueFullByBacklog(backlog, maxBacklog).message }
      if (memory !== undefined && isAbove(memory, settings.highWaterPercent)) return { ...state, accepting: false, shedding: queueFullByMemory(settings.highWaterPercent).message }
      return state
    },
  }
}
