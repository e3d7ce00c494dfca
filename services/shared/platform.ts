// The platform manifest (platform.json at the repository root), checked when loaded, and what the rest
// derives from it: app names, ports, entries, routes, and each service's settings schema. Pure functions
// of a manifest, so a test can derive everything from a copy with one more app.
//
// No package imports: the provisioner loads this file from the source with Node.js alone, before any
// npm install (a fresh VM has no node_modules). Editors check platform.json against platform.schema.json
// as it is edited (its "$schema"), and test/provision/manifest.test.ts does with ajv; here, at load, the
// shape that the code relies on and every cross-reference are checked by hand.
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

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)
const NAME = /^[A-Z][A-Z0-9_]*$/

/** The problems of one app's entry (what the code reads of it). */
function appProblems(name: string, app: unknown): string[] {
  const at = `apps.${name}`
  if (!isObject(app)) return [`${at} is not an object`]
  const problems: string[] = []
  for (const field of ['title', 'source', 'port', 'health'] as const) if (typeof app[field] !== 'string') problems.push(`${at}.${field} must be a string`)
  if (typeof app.source === 'string' && !/^services\/[a-z0-9-]+$/.test(app.source)) problems.push(`${at}.source must be services/<folder>`)
  const route = app.route
  if (!isObject(route) || typeof route.prefix !== 'string' || !/^\/[a-z0-9-]+$/.test(route.prefix)) problems.push(`${at}.route.prefix must be /<lowercase name>`)
  const process = app.process
  if (!isObject(process) || (process.mode !== 'cluster' && process.mode !== 'fork')) problems.push(`${at}.process.mode must be cluster or fork`)
  else if (!(Number.isInteger(process.instances) && Number(process.instances) >= 1) && !(typeof process.instances === 'string' && NAME.test(process.instances))) {
    problems.push(`${at}.process.instances must be a count or a setting's name`)
  }
  return problems
}

/** The problems of one setting's entry. */
function settingProblems(name: string, setting: unknown): string[] {
  const at = `settings.${name}`
  if (!NAME.test(name)) return [`${at}: a setting's name is UPPER_SNAKE_CASE`]
  if (!isObject(setting)) return [`${at} is not an object`]
  const problems: string[] = []
  if (setting.scope !== 'machine' && setting.scope !== 'service') problems.push(`${at}.scope must be machine or service`)
  if (setting.type !== 'integer' && setting.type !== 'string') problems.push(`${at}.type must be integer or string`)
  if (typeof setting.about !== 'string' || setting.about === '') problems.push(`${at}.about must say what it is`)
  if (setting.default !== undefined && typeof setting.default !== (setting.type === 'integer' ? 'number' : 'string')) problems.push(`${at}.default must be of its type`)
  if (setting.scope === 'service' && setting.apps !== 'all' && !(Array.isArray(setting.apps) && setting.apps.length > 0)) problems.push(`${at}.apps must be "all" or a list of apps`)
  return problems
}

/** The manifest, checked for the shape the code relies on and for what a schema cannot say: every named app, setting and prefix exists once. */
export function checkManifest(candidate: unknown): PlatformManifest {
  const problems: string[] = []
  if (!isObject(candidate) || !isObject(candidate.apps) || !isObject(candidate.sites) || !isObject(candidate.settings)) {
    throw new Error('platform.json is invalid: it must have apps, sites and settings')
  }
  for (const [name, app] of Object.entries(candidate.apps)) problems.push(...appProblems(name, app))
  for (const [name, setting] of Object.entries(candidate.settings)) problems.push(...settingProblems(name, setting))
  if (problems.length > 0) throw new Error(`platform.json is invalid: ${problems.join('; ')}`)
  const manifest = candidate as unknown as PlatformManifest
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
