import { loadConfig } from '../shared/config.ts'
import type { LogLevel } from '../shared/logger.ts'
import { configSchemaOf, platform } from '../shared/platform.ts'
import { withOwnRedisUrl } from '../shared/redis-users.ts'

// The settings, their ranges and defaults are the platform manifest's (platform.json).
export interface AuthConfig {
  HTTP_PORT: number
  HTTP_HOST: string
  REDIS_URL: string
  JWT_SECRET: string
  TOKEN_TTL_SECONDS: number
  LOGIN_FAILURES_PER_USER: number
  LOGIN_FAILURES_PER_ADDRESS: number
  LOGIN_FAILURE_WINDOW_SECONDS: number
  LOG_LEVEL: LogLevel
  SHUTDOWN_TIMEOUT_MS: number
}

const authSchema = configSchemaOf(platform, 'auth')

/** The Auth API's settings from the environment; throws a ConfigError naming every bad variable. */
export function loadAuthConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return loadConfig(authSchema, withOwnRedisUrl('auth', env))
}

export interface SeedConfig {
  REDIS_URL: string
}

const seedSchema = {
  type: 'object',
  properties: { REDIS_URL: (authSchema as { properties: Record<string, object> }).properties.REDIS_URL },
  required: ['REDIS_URL'],
  additionalProperties: false,
}

/** The seed command needs only Redis. */
export function loadSeedConfig(env: NodeJS.ProcessEnv = process.env): SeedConfig {
  return loadConfig(seedSchema, withOwnRedisUrl('auth', env))
}
