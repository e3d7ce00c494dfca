import { loadConfig } from '../shared/config.ts'
import type { LogLevel } from '../shared/logger.ts'
import { configSchemaOf, platform } from '../shared/platform.ts'
import { withOwnRedisUrl } from '../shared/redis-users.ts'

// The settings, their ranges and defaults are the platform manifest's (platform.json).
export interface LoyaltyWorkerConfig {
  HTTP_PORT: number
  HTTP_HOST: string
  REDIS_URL: string
  JWT_SECRET: string
  LOYALTY_STAMPS_PER_VOUCHER: number
  LOYALTY_CONCURRENCY: number
  LOG_LEVEL: LogLevel
  SHUTDOWN_TIMEOUT_MS: number
  TRANSACTION_RETENTION: string
  REDIS_MEMORY_HIGH_WATER_PERCENT: number
}

const schema = configSchemaOf(platform, 'loyalty')

/** The Loyalty Worker's settings from the environment; throws a ConfigError naming every bad variable. */
export function loadLoyaltyWorkerConfig(env: NodeJS.ProcessEnv = process.env): LoyaltyWorkerConfig {
  return loadConfig(schema, withOwnRedisUrl('loyalty', env))
}
