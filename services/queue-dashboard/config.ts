import type { JSONSchemaType } from 'ajv'
import { commonSettings, httpHostSetting, httpPortSetting, loadConfig } from '../shared/config.ts'
import type { LogLevel } from '../shared/logger.ts'

export interface QueueDashboardConfig {
  HTTP_PORT: number
  HTTP_HOST: string
  REDIS_URL: string
  LOG_LEVEL: LogLevel
  SHUTDOWN_TIMEOUT_MS: number
  QUEUE_DASHBOARD_USER: string
  QUEUE_DASHBOARD_PASSWORD: string
}

const schema: JSONSchemaType<QueueDashboardConfig> = {
  type: 'object',
  properties: {
    ...commonSettings,
    HTTP_PORT: { ...httpPortSetting, default: 5003 },
    HTTP_HOST: httpHostSetting,
    QUEUE_DASHBOARD_USER: {
      type: 'string',
      // Basic auth sends "user:password": a colon cannot be part of the user name.
      pattern: '^[^:\\s]{1,64}$',
      default: 'admin',
      description: '1 to 64 characters, no colon or whitespace (default admin)',
    },
    QUEUE_DASHBOARD_PASSWORD: {
      type: 'string',
      minLength: 16,
      description: 'at least 16 characters (the provisioner generates one)',
    },
  },
  required: ['HTTP_PORT', 'HTTP_HOST', 'REDIS_URL', 'LOG_LEVEL', 'SHUTDOWN_TIMEOUT_MS', 'QUEUE_DASHBOARD_USER', 'QUEUE_DASHBOARD_PASSWORD'],
  additionalProperties: false,
}

/** The queue dashboard's settings from the environment; throws a ConfigError naming every bad variable. */
export function loadQueueDashboardConfig(env: NodeJS.ProcessEnv = process.env): QueueDashboardConfig {
  return loadConfig(schema, env)
}
