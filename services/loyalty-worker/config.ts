import type { JSONSchemaType } from 'ajv'
import { commonSettings, httpHostSetting, httpPortSetting, jwtSecretSetting, loadConfig } from '../shared/config.ts'
import type { LogLevel } from '../shared/logger.ts'

export interface LoyaltyWorkerConfig {
  HTTP_PORT: number
  HTTP_HOST: string
  REDIS_URL: string
  JWT_SECRET: string
  LOYALTY_STAMPS_PER_VOUCHER: number
  LOYALTY_CONCURRENCY: number
  LOG_LEVEL: LogLevel
  SHUTDOWN_TIMEOUT_MS: number
}

const schema: JSONSchemaType<LoyaltyWorkerConfig> = {
  type: 'object',
  properties: {
    ...commonSettings,
    HTTP_PORT: { ...httpPortSetting, default: 5002 },
    HTTP_HOST: httpHostSetting,
    // GET /me verifies the Auth API's tokens, so it needs the same secret.
    JWT_SECRET: jwtSecretSetting,
    LOYALTY_STAMPS_PER_VOUCHER: {
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      default: 10,
      description: 'an integer from 1 to 1000 (stamps exchanged for one voucher)',
    },
    LOYALTY_CONCURRENCY: {
      type: 'integer',
      minimum: 1,
      maximum: 200,
      default: 10,
      description: 'an integer from 1 to 200 (jobs in flight per worker process)',
    },
  },
  required: [
    'HTTP_PORT',
    'HTTP_HOST',
    'REDIS_URL',
    'JWT_SECRET',
    'LOYALTY_STAMPS_PER_VOUCHER',
    'LOYALTY_CONCURRENCY',
    'LOG_LEVEL',
    'SHUTDOWN_TIMEOUT_MS',
  ],
  additionalProperties: false,
}

/** The Loyalty Worker's settings from the environment; throws a ConfigError naming every bad variable. */
export function loadLoyaltyWorkerConfig(env: NodeJS.ProcessEnv = process.env): LoyaltyWorkerConfig {
  return loadConfig(schema, env)
}
