import type { JSONSchemaType } from 'ajv'
import { commonSettings, httpHostSetting, httpPortSetting, jwtSecretSetting, loadConfig } from '../shared/config.ts'
import type { LogLevel } from '../shared/logger.ts'

export interface TransactionApiConfig {
  HTTP_PORT: number
  HTTP_HOST: string
  REDIS_URL: string
  JWT_SECRET: string
  LOG_LEVEL: LogLevel
  SHUTDOWN_TIMEOUT_MS: number
  IDEMPOTENCY_TTL_SECONDS: number
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
  },
  required: ['HTTP_PORT', 'HTTP_HOST', 'REDIS_URL', 'JWT_SECRET', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS', 'IDEMPOTENCY_TTL_SECONDS'],
  additionalProperties: false,
}

/** The Transaction API's settings from the environment; throws a ConfigError naming every bad variable. */
export function loadTransactionApiConfig(env: NodeJS.ProcessEnv = process.env): TransactionApiConfig {
  return loadConfig(schema, env)
}
