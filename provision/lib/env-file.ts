import { randomBytes } from 'node:crypto'
import { parseDotenv, type Settings, serviceSettings } from './settings.ts'

/** Generated on the first run, kept on every later one, never printed. */
export interface Secrets {
  JWT_SECRET: string
  REDIS_PASSWORD: string
  QUEUE_DASHBOARD_PASSWORD: string
}

// Random bytes per secret; base64url keeps them safe inside a redis:// URL and an env file.
const secretBytes: Record<keyof Secrets, number> = {
  JWT_SECRET: 48,
  REDIS_PASSWORD: 32,
  QUEUE_DASHBOARD_PASSWORD: 24,
}

const usableSecret = /^[A-Za-z0-9_-]{32,}$/

export type RandomSecret = (bytes: number) => string

export const randomSecret: RandomSecret = (bytes) => randomBytes(bytes).toString('base64url')

export const REDIS_PORT = 6379

/**
 * The secrets of the existing env file (its text, or undefined when there is none), generating any
 * missing or unusable one. `generated` names the new ones, never their values.
 */
export function resolveSecrets(existing: string | undefined, random: RandomSecret = randomSecret): { secrets: Secrets; generated: string[] } {
  const current = existing === undefined ? {} : parseDotenv(existing)
  const generated: string[] = []
  const secrets = {} as Secrets
  for (const [name, bytes] of Object.entries(secretBytes) as [keyof Secrets, number][]) {
    const value = current[name]
    if (value !== undefined && usableSecret.test(value)) {
      secrets[name] = value
    } else {
      secrets[name] = random(bytes)
      generated.push(name)
    }
  }
  return { secrets, generated }
}

export function redisUrl(secrets: Secrets): string {
  return `redis://:${secrets.REDIS_PASSWORD}@127.0.0.1:${REDIS_PORT}/0`
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
REDIS_PASSWORD=${secrets.REDIS_PASSWORD}
REDIS_URL=${redisUrl(secrets)}
QUEUE_DASHBOARD_PASSWORD=${secrets.QUEUE_DASHBOARD_PASSWORD}
${service.join('\n')}
`
}
