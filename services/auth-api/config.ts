import type { JSONSchemaType } from 'ajv'
import { commonSettings, httpHostSetting, httpPortSetting, jwtSecretSetting, loadConfig } from '../shared/config.ts'
import type { LogLevel } from '../shared/logger.ts'

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

const count = (fallback: number) =>
  ({ type: 'integer', minimum: 1, maximum: 1_000_000, default: fallback, description: 'a whole number from 1 to 1000000' }) as const

const authSchema: JSONSchemaType<AuthConfig> = {
  type: 'object',
  properties: {
    HTTP_PORT: { ...httpPortSetting, default: 5000 },
    HTTP_HOST: httpHostSetting,
    JWT_SECRET: jwtSecretSetting,
    TOKEN_TTL_SECONDS: {
      type: 'integer',
      minimum: 1,
      maximum: 86400,
      default: 30,
      description: 'a whole number of seconds from 1 to 86400',
    },
    // Failed logins allowed per username and per client address in a window (login-limit.ts).
    LOGIN_FAILURES_PER_USER: count(10),
    LOGIN_FAILURES_PER_ADDRESS: count(100),
    LOGIN_FAILURE_WINDOW_SECONDS: { type: 'integer', minimum: 1, maximum: 86400, default: 900, description: 'a whole number of seconds from 1 to 86400' },
    ...commonSettings,
  },
  required: [
    'HTTP_PORT', 'HTTP_HOST', 'REDIS_URL', 'JWT_SECRET', 'TOKEN_TTL_SECONDS',
    'LOGIN_FAILURES_PER_USER', 'LOGIN_FAILURES_PER_ADDRESS', 'LOGIN_FAILURE_WINDOW_SECONDS', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS',
  ],
  additionalProperties: false,
}

/** The Auth API's settings from the environment; throws a ConfigError naming every bad variable. */
export function loadAuthConfig(env: NodeJS.ProcessEnv = process.env): AuthConfig {
  return loadConfig(authSchema, env)
}

export interface SeedConfig {
  REDIS_URL: string
}

const seedSchema: JSONSchemaType<SeedConfig> = {
  type: 'object',
  properties: { REDIS_URL: commonSettings.REDIS_URL },
  required: ['REDIS_URL'],
  additionalProperties: false,
}

/** The seed command needs only Redis. */
export function loadSeedConfig(env: NodeJS.ProcessEnv = process.env): SeedConfig {
  return loadConfig(seedSchema, env)
}
