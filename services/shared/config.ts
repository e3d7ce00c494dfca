import { Ajv, type ErrorObject } from 'ajv'

interface SettingsSchema {
  properties?: Record<string, { description?: string }>
}

/** Thrown at start-up when the environment is missing a setting or has a bad one. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

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
export function loadConfig<T>(schema: object, env: NodeJS.ProcessEnv = process.env): T {
  const validate = ajv.compile<T>(schema)
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
