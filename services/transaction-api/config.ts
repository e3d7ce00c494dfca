import { loadConfig } from '../shared/config.ts'
import type { LogLevel } from '../shared/logger.ts'
import { configSchemaOf, platform } from '../shared/platform.ts'
import { withOwnRedisUrl } from '../shared/redis-users.ts'

// The settings, their ranges and defaults are the platform manifest's (platform.json).
export interface TransactionApiConfig {
  HTTP_PORT: number
  HTTP_HOST: string
  REDIS_URL: string
  JWT_SECRET: string
  LOG_LEVEL: LogLevel
  SHUTDOWN_TIMEOUT_MS: number
  IDEMPOTENCY_TTL_SECONDS: number
  /** Unset: derived from Redis's maxmemory (admission.ts). */
  QUEUE_MAX_BACKLOG?: number
  REDIS_MEMORY_HIGH_WATER_PERCENT: number
}

const schema = configSchemaOf(platform, 'transactions')

/** The Transaction API's settings from the environment; throws a ConfigError naming every bad variable. */
export function loadTransactionApiConfig(env: NodeJS.ProcessEnv = process.env): TransactionApiConfig {
  return loadConfig(schema, withOwnRedisUrl('transactions', env))
}
