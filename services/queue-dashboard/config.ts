import { loadConfig } from '../shared/config.ts'
import type { LogLevel } from '../shared/logger.ts'
import { configSchemaOf, platform } from '../shared/platform.ts'
import { withOwnRedisUrl } from '../shared/redis-users.ts'

// The settings, their ranges and defaults are the platform manifest's (platform.json).
export interface QueueDashboardConfig {
  HTTP_PORT: number
  HTTP_HOST: string
  REDIS_URL: string
  LOG_LEVEL: LogLevel
  SHUTDOWN_TIMEOUT_MS: number
  QUEUE_DASHBOARD_USER: string
  QUEUE_DASHBOARD_PASSWORD: string
}

const schema = configSchemaOf(platform, 'dashboard')

/** The queue dashboard's settings from the environment; throws a ConfigError naming every bad variable. */
export function loadQueueDashboardConfig(env: NodeJS.ProcessEnv = process.env): QueueDashboardConfig {
  return loadConfig(schema, withOwnRedisUrl('dashboard', env))
}
