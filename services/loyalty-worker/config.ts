import type { JSONSchemaType } from 'ajv'
import { commonSettings, httpHostSetting, httpPortSetting, jwtSecretSetting, loadConfig, memoryHighWaterSetting } from '../shared/config.ts'
import { durationPattern } from '../shared/duration.ts'
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
  TRANSACTION_RETENTION: string
  REDIS_MEMORY_HIGH_WATER_PERCENT: number
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
    TRANSACTION_RETENTION: {
      type: 'string',
      pattern: durationPattern,
      // As long as an Idempotency-Key is remembered by default (IDEMPOTENCY_TTL_SECONDS): a client that
      // retries within a day finds its transaction, and a machine load-tested today is back to its
      // usual memory tomorrow.
      default: '24h',
      description: 'how long a completed or failed transaction record is kept, e.g. 90s, 30m, 24h, 7d',
    },
    REDIS_MEMORY_HIGH_WATER_PERCENT: memoryHighWaterSetting,
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
    'TRANSACTION_RETENTION',
    'REDIS_MEMORY_HIGH_WATER_PERCENT',
  ],
  additionalProperties: false,
}

/** The Loyalty Worker's settings from the environment; throws a ConfigError naming every bad variable. */
export function loadLoyaltyWorkerConfig(env: NodeJS.ProcessEnv = process.env): LoyaltyWorkerConfig {
  return loadConfig(schema, env)
}
