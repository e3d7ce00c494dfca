import { randomBytes } from 'node:crypto'
import { appNamesOf, platform } from '../../services/shared/platform.ts'
import { ownRedisUrlVariable } from '../../services/shared/redis-users.ts'
import { PROVISIONER_USER } from '../render/redis-acl.ts'
import { parseDotenv, type Settings, serviceSettings } from './settings.ts'

/** Generated on the first run, kept on every later one, never printed. */
export interface Secrets {
  JWT_SECRET: string
  /**
   * The provisioner's own Redis user's password (PROVISIONER_USER). Before Redis had users it was the one
   * password of Redis's `default` user: an upgrade keeps the value, so the first run still reaches the old Redis.
   */
  REDIS_PASSWORD: string
  QUEUE_DASHBOARD_PASSWORD: string
  /** Each app's Redis user's password, by app (platform.json's apps), kept in its REDIS_URL_<APP>. */
  redisApps: Record<string, string>
}

// Random bytes per secret; base64url keeps them safe inside a redis:// URL and an env file.
const secretBytes: Record<Exclude<keyof Secrets, 'redisApps'>, number> = {
  JWT_SECRET: 48,
  REDIS_PASSWORD: 32,
  QUEUE_DASHBOARD_PASSWORD: 24,
}

const usableSecret = /^[A-Za-z0-9_-]{32,}$/

export type RandomSecret = (bytes: number) => string

export const randomSecret: RandomSecret = (bytes) => randomBytes(bytes).toString('base64url')

export const REDIS_PORT = 6379
const REDIS_APP_PASSWORD_BYTES = 32

/** An app's password in an env file: the password of its REDIS_URL_<APP>, when that URL names the app's user. */
function appPasswordIn(current: Record<string, string>, app: string): string | undefined {
  try {
    const url = new URL(current[ownRedisUrlVariable(app)] ?? '')
    return decodeURIComponent(url.username) === app ? decodeURIComponent(url.password) : undefined
  } catch {
    return undefined
  }
}

/**
 * The secrets of the existing env file (its text, or undefined when there is none), generating any
 * missing or unusable one. `generated` names the new ones, never their values.
 */
export function resolveSecrets(existing: string | undefined, random: RandomSecret = randomSecret): { secrets: Secrets; generated: string[] } {
  const current = existing === undefined ? {} : parseDotenv(existing)
  const generated: string[] = []
  const secrets = { redisApps: {} } as unknown as Secrets
  for (const [name, bytes] of Object.entries(secretBytes) as [Exclude<keyof Secrets, 'redisApps'>, number][]) {
    const value = current[name]
    if (value !== undefined && usableSecret.test(value)) {
      secrets[name] = value
    } else {
      secrets[name] = random(bytes)
      generated.push(name)
    }
  }
  for (const app of appNamesOf(platform)) {
    const value = appPasswordIn(current, app)
    if (value !== undefined && usableSecret.test(value)) {
      secrets.redisApps[app] = value
    } else {
      secrets.redisApps[app] = random(REDIS_APP_PASSWORD_BYTES)
      generated.push(ownRedisUrlVariable(app))
    }
  }
  return { secrets, generated }
}

/** An app's own Redis URL: its user and password (base64url: nothing to escape). */
export function redisUrlOf(secrets: Secrets, app: string): string {
  return `redis://${app}:${secrets.redisApps[app]}@127.0.0.1:${REDIS_PORT}/0`
}

/** Every Redis user's password, by user: what the ACL file is rendered with (provision/render/redis-acl.ts). */
export function redisPasswordsOf(secrets: Secrets): Record<string, string> {
  return { [PROVISIONER_USER]: secrets.REDIS_PASSWORD, ...secrets.redisApps }
}

/** /etc/yoyo-platform/platform.env: what every service process reads at start (node --env-file). */
export function renderEnvFile(secrets: Secrets, settings: Settings): string {
  const service = Object.keys(serviceSettings).map((name) =>
    settings.service[name] === undefined ? `# ${name}=  (not set: the service's default)` : `${name}=${settings.service[name]}`,
  )
  return `# Managed by the yoyo-platform provisioner: edits are overwritten.
# Every service process reads this file itself at start (node --env-file), so no secret passes
# through PM2's saved process list. Mode 0600, owner yoyo.
# Secrets are generated on the first run and kept on later ones: remove a line to get a new one.
# Settings come from the environment or the repository's .env file (see provision/README.md).
JWT_SECRET=${secrets.JWT_SECRET}
# Redis: each app logs in as its own user (REDIS_URL_<APP>, which it reads as its REDIS_URL) with only the
# commands and keys it needs (/etc/redis/yoyo-platform.acl); REDIS_PASSWORD is the provisioner's user's.
REDIS_PASSWORD=${secrets.REDIS_PASSWORD}
${appNamesOf(platform).map((app) => `${ownRedisUrlVariable(app)}=${redisUrlOf(secrets, app)}`).join('\n')}
QUEUE_DASHBOARD_PASSWORD=${secrets.QUEUE_DASHBOARD_PASSWORD}
${service.join('\n')}
`
}
