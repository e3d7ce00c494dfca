import type { JSONSchemaType } from 'ajv'
import { commonSettings, httpHostSetting, httpPortSetting, jwtSecretSetting, loadConfig, memoryHighWaterSetting } from '../shared/config.ts'
import type { LogLevel } from '../shared/logger.ts'

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

const schema: JSONSchemaType<TransactionApiConfig> = {
  type: 'object',
  properties: {
    ...commonSettings,
    HTTP_PORT: { ...httpPortSetting, default: 5001 },
    HTTP_HOST: httpHostSetting,
    JWT_SECRET: jwtSecretSetting,
    IDEMPOTENCY_TTL_SECONDS: {
      type: 'integer',
      // Clients retry over seconds to hours; a day (the default) covers an app resent the next morning.
      minimum: 60,
      maximum: 2_592_000,
      default: 86_400,
      description: 'seconds an Idempotency-Key is remembered, from 60 to 2592000 (30 days)',
    },
    QUEUE_MAX_BACKLOG: {
      type: 'integer',
      nullable: true,
      minimum: 1,
      maximum: 10_000_000,
      description: 'an integer from 1 to 10000000: transactions queued and not yet processed above which new ones are refused (503); unset: as many as fill half of Redis maxmemory',
    },
    REDIS_MEMORY_HIGH_WATER_PERCENT: memoryHighWaterSetting,
  },
  required: ['HTTP_PORT', 'HTTP_HOST', 'REDIS_URL', 'JWT_SECRET', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS', 'IDEMPOTENCY_TTL_SECONDS', 'REDIS_MEMORY_HIGH_WATER_PERCENT'],
  additionalProperties: false,
}

/** The Transaction API's settings from the environment; throws a ConfigError naming every bad variable. */
export function loadTransactionApiConfig(env: NodeJS.ProcessEnv = process.env): TransactionApiConfig {
  return loadConfig(schema, env)
}
