import { Redis } from 'ioredis'
import type { Logger } from './logger.ts'

export type { Redis }

/**
 * An ioredis client tuned to fail fast: while Redis is unreachable, commands are rejected at once
 * (no offline queue) so that APIs answer 503 instead of hanging, and the client keeps reconnecting
 * in the background so the service recovers by itself.
 */
export interface RedisOptions {
  name: string
  logger?: Logger
  commandTimeoutMs?: number
  /**
   * Commands issued in the same tick (by concurrent requests or jobs) go out in one write: more
   * POST /transactions per second (measured in docs/performance.md). With it,
   * define every script (defineCommand) before the client's first command: ioredis 5 cannot add a
   * command to an auto-pipeline already open in that tick and then misaligns its replies (issue #1931).
   */
  autoPipelining?: boolean
}

export function createRedis(url: string, options: RedisOptions): Redis {
  const redis = new Redis(url, {
    connectionName: options.name,
    lazyConnect: true,
    enableAutoPipelining: options.autoPipelining ?? false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    // After a failover or a restart from a replica, retry on READONLY instead of failing writes.
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
  })
  let down = false
  redis.on('error', (err: Error) => {
    // ioredis emits an error on every failed reconnect; log the first of a series only.
    if (!down) options.logger?.warn({ err: err.message }, 'redis connection error')
    down = true
  })
  redis.on('ready', () => {
    if (down) options.logger?.info('redis connection restored')
    down = false
  })
  return redis
}

/** Connects, but does not fail start-up when Redis is not there yet: health says 503 until it is. */
export async function connectRedis(redis: Redis): Promise<void> {
  try {
    await redis.connect()
  } catch {
    // retryStrategy keeps trying in the background.
  }
}

export async function closeRedis(redis: Redis): Promise<void> {
  try {
    await redis.quit()
  } catch {
    redis.disconnect()
  }
}
