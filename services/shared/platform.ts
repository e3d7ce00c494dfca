// The platform manifest (platform.json at the repository root), checked against its schema when loaded,
// and what the rest derives from it: app names, ports, entries, routes, and each service's settings
// schema. Pure functions of a manifest, so a test can derive everything from a copy with one more app.
import { Ajv } from 'ajv'
import manifestJson from '../../platform.json' with { type: 'json' }

export interface AppManifest {
  title: string
  /** The service's folder: its entry is <source>/main.ts, built to dist/<source>/main.js. */
  source: string
  /** The setting (a machine setting) that holds its HTTP port. */
  port: string
  route: {
    /** The public path prefix, without a trailing slash. */
    prefix: string
    /** See nginx/routes.ts: a route that passes its prefix through, except for these paths. */
    passThroughExcept?: string[]
    /** Paths under the prefix limited per client address (429 past the limit). */
    rateLimited?: string[]
  }
  /** Its health check, on the service itself (behind nginx: <prefix><health>). */
  health: string
  process: {
    mode: 'cluster' | 'fork'
    /** A fixed count, or the machine setting that holds it. */
    instances: number | string
  }
}

export interface SiteManifest {
  title: string
  prefix: string
  /** What to GET through nginx to know it is served. */
  health: string
}

export interface SettingManifest {
  /** machine: the provisioner's (ports, instances, Redis); service: read by the apps named in `apps`. */
  scope: 'machine' | 'service'
  apps?: string[] | 'all'
  type: 'integer' | 'string'
  minimum?: number
  maximum?: number
  minLength?: number
  pattern?: string
  enum?: string[]
  default?: number | string
  /** Generated at provisioning (or holding one, like REDIS_URL), kept 0600, never logged or passed through PM2. */
  secret?: boolean
  /** false: a service setting the provisioner sets itself, not the user. */
  provisioned?: boolean
  /** What it is, and what a valid value looks like: error messages and docs quote it. */
  about: string
}

export interface PlatformManifest {
  apps: Record<string, AppManifest>
  sites: Record<string, SiteManifest>
  settings: Record<string, SettingManifest>
}

const nameList = { type: 'array', items: { type: 'string', pattern: '^/' } } as const
const manifestSchema = {
  type: 'object',
  required: ['apps', 'sites', 'settings'],
  properties: {
    $comment: { type: 'string' },
    apps: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[a-z][a-z0-9-]*$' },
      additionalProperties: {
        type: 'object',
        required: ['title', 'source', 'port', 'route', 'health', 'process'],
        additionalProperties: false,
        properties: {
          title: { type: 'string', minLength: 1 },
          source: { type: 'string', pattern: '^services/[a-z0-9-]+$' },
          port: { type: 'string', pattern: '^[A-Z][A-Z0-9_]*$' },
          route: {
            type: 'object',
            required: ['prefix'],
            additionalProperties: false,
            properties: { prefix: { type: 'string', pattern: '^/[a-z0-9-]+$' }, passThroughExcept: nameList, rateLimited: nameList },
          },
          health: { type: 'string', pattern: '^/' },
          process: {
            type: 'object',
            required: ['mode', 'instances'],
            additionalProperties: false,
            properties: {
              mode: { enum: ['cluster', 'fork'] },
              instances: { oneOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[A-Z][A-Z0-9_]*$' }] },
            },
          },
        },
      },
    },
    sites: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['title', 'prefix', 'health'],
        additionalProperties: false,
        properties: { title: { type: 'string' }, prefix: { type: 'string', pattern: '^/[a-z0-9-]+$' }, health: { type: 'string', pattern: '^/' } },
      },
    },
    settings: {
      type: 'object',
      propertyNames: { pattern: '^[A-Z][A-Z0-9_]*$' },
      additionalProperties: {
        type: 'object',
        required: ['scope', 'type', 'about'],
        additionalProperties: false,
        properties: {
          scope: { enum: ['machine', 'service'] },
          apps: { oneOf: [{ const: 'all' }, { type: 'array', items: { type: 'string' }, minItems: 1 }] },
          type: { enum: ['integer', 'string'] },
          minimum: { type: 'integer' },
          maximum: { type: 'integer' },
          minLength: { type: 'integer' },
          pattern: { type: 'string' },
          enum: { type: 'array', items: { type: 'string' } },
          default: { type: ['integer', 'string'] },
          secret: { type: 'boolean' },
          provisioned: { type: 'boolean' },
          about: { type: 'string', minLength: 1 },
        },
      },
    },
  },
  additionalProperties: false,
} as const

const validateManifest = new Ajv({ allErrors: true, allowUnionTypes: true }).compile(manifestSchema)

/** The manifest, schema-checked, and checked for what a schema cannot say: every named setting exists. */
export function checkManifest(candidate: unknown): PlatformManifest {
  if (!validateManifest(candidate)) {
    const problems = (validateManifest.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`)
    throw new Error(`platform.json is invalid: ${problems.join('; ')}`)
  }
  const manifest = candidate as unknown as PlatformManifest
  const problems: string[] = []
  const machineInteger = (name: string, where: string): void => {
    const setting = manifest.settings[name]
    if (setting?.scope !== 'machine' || setting.type !== 'integer' || setting.default === undefined) {
      problems.push(`${where} names ${name}, which is not a machine integer setting with a default`)
    }
  }
  for (const [name, app] of Object.entries(manifest.apps)) {
    machineInteger(app.port, `apps.${name}.port`)
    if (typeof app.process.instances === 'string') machineInteger(app.process.instances, `apps.${name}.process.instances`)
  }
  for (const [name, setting] of Object.entries(manifest.settings)) {
    for (const app of Array.isArray(setting.apps) ? setting.apps : []) if (!(app in manifest.apps)) problems.push(`settings.${name}.apps names ${app}, which is not an app`)
    if (setting.scope === 'service' && setting.apps === undefined) problems.push(`settings.${name} is a service setting without apps`)
  }
  const prefixes = [...Object.values(manifest.apps).map((app) => app.route.prefix), ...Object.values(manifest.sites).map((site) => site.prefix)]
  if (new Set(prefixes).size !== prefixes.length) problems.push('two routes share a prefix')
  if (problems.length > 0) throw new Error(`platform.json is invalid: ${problems.join('; ')}`)
  return manifest
}

export const platform: PlatformManifest = checkManifest(manifestJson)

export const appNamesOf = (manifest: PlatformManifest): string[] => Object.keys(manifest.apps)

export function defaultPortOf(manifest: PlatformManifest, app: string): number {
  return Number(manifest.settings[manifest.apps[app]!.port]!.default)
}

/** The compiled entry PM2 runs, relative to the repository root. */
export const builtEntryOf = (manifest: PlatformManifest, app: string): string => `dist/${manifest.apps[app]!.source}/main.js`

/** The entry as source, relative to the repository root (npm run dev, the test harnesses). */
export const sourceEntryOf = (manifest: PlatformManifest, app: string): string => `${manifest.apps[app]!.source}/main.ts`

/** What to GET through nginx to know each app and site is served: every app's <prefix><health>, every site's health. */
export function publicHealthPathsOf(manifest: PlatformManifest): { name: string; path: string }[] {
  return [
    ...appNamesOf(manifest).map((name) => ({ name, path: `${manifest.apps[name]!.route.prefix}${manifest.apps[name]!.health}` })),
    ...Object.entries(manifest.sites).map(([name, site]) => ({ name, path: site.health })),
  ]
}

/** What an error message says a valid value is. */
export function expectationOf(setting: SettingManifest): string {
  if (setting.type === 'integer') return `an integer from ${setting.minimum ?? '-∞'} to ${setting.maximum ?? '∞'}: ${setting.about}`
  return setting.about
}

/** The settings an app reads, by name. */
export function settingsOf(manifest: PlatformManifest, app: string): Record<string, SettingManifest> {
  return Object.fromEntries(
    Object.entries(manifest.settings).filter(([, s]) => s.scope === 'service' && (s.apps === 'all' || s.apps?.includes(app))),
  )
}

/**
 * The JSON schema of an app's environment (for shared/config.ts's loadConfig): its settings and HTTP_PORT,
 * whose default is the app's port. A setting with a default or without is required unless it has none and
 * is not a secret (QUEUE_MAX_BACKLOG: unset means derived).
 */
export function configSchemaOf(manifest: PlatformManifest, app: string): object {
  const properties: Record<string, object> = {
    HTTP_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: defaultPortOf(manifest, app), description: 'a TCP port from 0 to 65535' },
  }
  const required = ['HTTP_PORT']
  for (const [name, setting] of Object.entries(settingsOf(manifest, app))) {
    const { scope: _scope, apps: _apps, secret: _secret, provisioned: _provisioned, about: _about, ...schema } = setting
    properties[name] = { ...schema, description: expectationOf(setting) }
    if (setting.default !== undefined || setting.secret === true) required.push(name)
  }
  return { type: 'object', properties, required, additionalProperties: false }
}
