import { parseEnv } from 'node:util'
import { appNamesOf, platform, type PlatformManifest, type SettingManifest } from '../../services/shared/platform.ts'

// The settings a user may change, from the environment or from a `.env` file at the repository root
// (the environment wins). Defined once, in platform.json; documented in provision/README.md and
// .env.example (generated from it).

/** Settings of the machine (ports, instances, Redis): they always have a value. */
export function machineSettingsOf(manifest: PlatformManifest): Record<string, SettingManifest> {
  return Object.fromEntries(Object.entries(manifest.settings).filter(([, s]) => s.scope === 'machine'))
}

/**
 * Settings of the services a user may set: passed on only when set, otherwise each service applies its
 * own default. Secrets are generated instead, and a few (HTTP_HOST) are the provisioner's own.
 */
export function userServiceSettingsOf(manifest: PlatformManifest): Record<string, SettingManifest> {
  return Object.fromEntries(Object.entries(manifest.settings).filter(([, s]) => s.scope === 'service' && s.secret !== true && s.provisioned !== false))
}

/** What the PM2 ecosystem reads of the machine settings: each app's port setting and instance setting. */
export function appEnvironmentOf(manifest: PlatformManifest, settings: Settings): Record<string, string> {
  const names = Object.values(manifest.apps).flatMap((app) => [app.port, ...(typeof app.process.instances === 'string' ? [app.process.instances] : [])])
  return Object.fromEntries(names.map((name) => [name, settings.machine[name]!]))
}

export const machineSettings = machineSettingsOf(platform)
export const serviceSettings = userServiceSettingsOf(platform)

export interface Settings {
  nginxPort: number
  /** The port the host reaches nginx on (Vagrant's forward, HOST_PORT; else nginx's own): what the summary shows. */
  hostPort: number
  /** Each app's HTTP port, by app name. */
  ports: Record<string, number>
  loyaltyInstances: number
  redisMaxmemory: string
  /** Every machine setting's value (set or default), by variable name. */
  machine: Record<string, string>
  /** Service settings the user set, by variable name. */
  service: Record<string, string>
}

export class SettingsError extends Error {
  override name = 'SettingsError'
}

/**
 * KEY=VALUE lines read exactly as `node --env-file` reads them (Node's own parser): comments, blank
 * lines, `export `, single or double quotes. The services read the env file that way, so the provisioner
 * must agree with them on every value.
 */
export const parseDotenv = (text: string): Record<string, string> => parseEnv(text) as Record<string, string>

function check(name: string, raw: string, setting: SettingManifest): string | undefined {
  if (setting.type === 'integer') {
    const value = Number(raw)
    return /^\d+$/.test(raw) && value >= (setting.minimum ?? 0) && value <= (setting.maximum ?? Number.MAX_SAFE_INTEGER)
      ? undefined
      : `${name} must be an integer from ${setting.minimum} to ${setting.maximum} (${setting.about})`
  }
  if (setting.enum !== undefined) return setting.enum.includes(raw) ? undefined : `${name} must be one of ${setting.enum.join(', ')}`
  const fits = (setting.pattern === undefined || new RegExp(setting.pattern).test(raw)) && raw.length >= (setting.minLength ?? 0)
  return fits ? undefined : `${name} is invalid: ${setting.about}`
}

/**
 * The settings from the environment and the .env file's values (environment first), with defaults.
 * Throws one SettingsError naming every bad variable (values are not echoed).
 */
export function resolveSettings(env: Record<string, string | undefined>, dotenv: Record<string, string> = {}, manifest: PlatformManifest = platform): Settings {
  const problems: string[] = []
  const pick = (name: string, definition: SettingManifest): string | undefined => {
    const raw = [env[name], dotenv[name]].find((value) => value !== undefined && value !== '')
    if (raw === undefined) return undefined
    const problem = check(name, raw.trim(), definition)
    if (problem !== undefined) problems.push(problem)
    return raw.trim()
  }
  const machine: Record<string, string> = {}
  for (const [name, definition] of Object.entries(machineSettingsOf(manifest))) {
    machine[name] = pick(name, definition) ?? String(definition.default)
  }
  const service: Record<string, string> = {}
  for (const [name, definition] of Object.entries(userServiceSettingsOf(manifest))) {
    const value = pick(name, definition)
    if (value !== undefined) service[name] = value
  }
  const ports = Object.fromEntries(appNamesOf(manifest).map((app) => [app, Number(machine[manifest.apps[app]!.port])]))
  const taken = [Number(machine.NGINX_PORT), ...Object.values(ports)]
  if (problems.length === 0 && new Set(taken).size !== taken.length) {
    const names = ['NGINX_PORT', ...appNamesOf(manifest).map((app) => manifest.apps[app]!.port)]
    problems.push(`${names.slice(0, -1).join(', ')} and ${names.at(-1)} must all differ`)
  }
  // Vagrant passes the host side of its port forward; it is only shown, never listened on.
  const hostPort = pick('HOST_PORT', { scope: 'machine', type: 'integer', minimum: 1, maximum: 65535, about: 'the host port forwarded to nginx' })
  if (problems.length > 0) throw new SettingsError(`Invalid settings: ${problems.join('; ')}`)
  return {
    nginxPort: Number(machine.NGINX_PORT),
    hostPort: Number(hostPort ?? machine.NGINX_PORT),
    ports,
    loyaltyInstances: Number(machine.LOYALTY_INSTANCES),
    redisMaxmemory: machine.REDIS_MAXMEMORY!.toLowerCase(),
    machine,
    service,
  }
}
