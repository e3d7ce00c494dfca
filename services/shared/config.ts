import { Ajv, type ErrorObject, type JSONSchemaType } from 'ajv'

interface SettingsSchema {
  properties?: Record<string, { description?: string }>
}

/** Thrown at start-up when the environment is missing a setting or has a bad one. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

// Settings every service shares; each service adds its own with `...`.
export const commonSettings = {
  REDIS_URL: {
    type: 'string',
    pattern: '^rediss?://',
    default: 'redis://127.0.0.1:6379/0',
    description: 'a redis:// URL',
  },
  LOG_LEVEL: {
    type: 'string',
    enum: ['debug', 'info', 'warn', 'error', 'silent'],
    default: 'info',
    description: 'one of debug, info, warn, error, silent',
  },
  SHUTDOWN_TIMEOUT_MS: {
    type: 'integer',
    minimum: 100,
    maximum: 60000,
    default: 8000,
    description: 'milliseconds to finish in-flight work on SIGTERM',
  },
} as const

// Read by the Transaction API (it stops taking transactions above it) and the Loyalty Worker (it trims
// the oldest finished transaction records 10 points below it): both must agree.
export const memoryHighWaterSetting = {
  type: 'integer',
  minimum: 50,
  maximum: 95,
  default: 90,
  description: 'an integer from 50 to 95: the percent of Redis maxmemory above which new transactions are refused (503)',
} as const

export const httpPortSetting = {
  type: 'integer',
  minimum: 0,
  maximum: 65535,
  description: 'a TCP port from 0 to 65535',
} as const

// Loopback by default: on a provisioned machine nginx is the only way in.
export const httpHostSetting = {
  type: 'string',
  minLength: 1,
  default: '127.0.0.1',
  description: 'the address to listen on, e.g. 127.0.0.1 (default) or 0.0.0.0 for every interface',
} as const

export const jwtSecretSetting = {
  type: 'string',
  minLength: 32,
  description: 'at least 32 characters (generate one with: openssl rand -base64 48)',
} as const

// Coercion turns the strings of the environment into the schema's numbers and booleans.
const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true })

function describe(error: ErrorObject, schema: SettingsSchema): string {
  if (error.keyword === 'required') {
    return `${String(error.params.missingProperty)} is required`
  }
  const name = error.instancePath.replace(/^\//, '')
  const property = schema.properties?.[name]
  return `${name} is invalid: ${property?.description ?? error.message ?? 'bad value'}`
}

/**
 * Reads the settings a schema names from the environment, applies defaults, coerces types, and throws
 * one ConfigError naming every bad variable. Values are never echoed: some of them are secrets.
 */
export function loadConfig<T>(schema: JSONSchemaType<T>, env: NodeJS.ProcessEnv = process.env): T {
  const validate = ajv.compile(schema)
  const names = Object.keys((schema as { properties: object }).properties)
  // Empty strings count as unset, as most shells and .env files mean them.
  const picked: Record<string, string> = {}
  for (const name of names) {
    const value = env[name]
    if (value !== undefined && value !== '') picked[name] = value
  }
  if (!validate(picked)) {
    const problems = [...new Set((validate.errors ?? []).map((e) => describe(e, schema as SettingsSchema)))]
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`)
  }
  return picked as T
}
