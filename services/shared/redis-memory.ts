// Redis's memory against its limit, from INFO memory. The platform's Redis evicts nothing (noeviction):
// past maxmemory it refuses writes, so the services watch how close it is and act before it gets there.
import { withTimeout } from './errors.ts'
import type { Redis } from './redis.ts'

export interface RedisMemory {
  /** used_memory: what maxmemory is compared against (less replication and AOF buffers). */
  used: number
  /** maxmemory; 0 when Redis has no limit. */
  max: number
}

const field = (info: string, name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0)

export function parseRedisMemory(infoMemory: string): RedisMemory {
  return { used: field(infoMemory, 'used_memory'), max: field(infoMemory, 'maxmemory') }
}

export async function readRedisMemory(redis: Redis, timeoutMs = 1000): Promise<RedisMemory> {
  return parseRedisMemory(await withTimeout(redis.info('memory'), timeoutMs, 'redis info memory'))
}

/** Whether Redis has a limit and its used memory is at or above `percent` of it. */
export const isAbove = (memory: RedisMemory, percent: number): boolean => memory.max > 0 && memory.used >= (memory.max * percent) / 100

/** The byte count `percent` of maxmemory is (0 when Redis has no limit). */
export const markOf = (memory: RedisMemory, percent: number): number => Math.floor((memory.max * percent) / 100)

export interface MemoryGauge {
  /**
   * The latest reading, at once: one younger than `maxAgeMs` as it is; an older one starts a refresh in the
   * background and is still returned while younger than `forgetAfterMs`. Undefined when there is none that
   * recent (after an idle spell, or while Redis cannot be read): a hot path never waits for INFO.
   */
  latest(): RedisMemory | undefined
  /** A reading made now (undefined when Redis cannot be read), for callers that may wait. */
  fresh(): Promise<RedisMemory | undefined>
}

/**
 * INFO memory costs Redis more than a transaction's whole write script, so a hot path reads it through
 * this gauge: at most one INFO per `maxAgeMs` per process, and none while nobody asks.
 */
export function memoryGauge(redis: Redis, options: { maxAgeMs: number; forgetAfterMs: number }): MemoryGauge {
  let reading: { memory: RedisMemory | undefined; at: number } = { memory: undefined, at: -Infinity }
  let refreshing: Promise<void> | undefined
  const refresh = (): Promise<void> =>
    (refreshing ??= readRedisMemory(redis)
      .then(
        (memory) => void (reading = { memory, at: performance.now() }),
        () => void (reading = { memory: undefined, at: performance.now() }),
      )
      .finally(() => (refreshing = undefined)))
  return {
    latest() {
      const age = performance.now() - reading.at
      if (age > options.maxAgeMs) void refresh()
      return age > options.forgetAfterMs ? undefined : reading.memory
    },
    async fresh() {
      await refresh()
      return reading.memory
    },
  }
}
