import { defaultPorts, type ServiceName } from '../../nginx/routes.ts'
import { durationPattern } from '../../services/shared/duration.ts'

// The settings a user may change, from the environment or from a `.env` file at the repository root
// (the environment wins). Documented in provision/README.md and .env.example.

interface IntegerSetting {
  kind: 'integer'
  min: number
  max: number
  default?: number
  description: string
}
interface ChoiceSetting {
  kind: 'choice'
  choices: string[]
  description: string
}
interface PatternSetting {
  kind: 'pattern'
  pattern: RegExp
  default?: string
  description: string
}
type Definition = IntegerSetting | ChoiceSetting | PatternSetting

const port = (fallback: number, description: string): IntegerSetting => ({ kind: 'integer', min: 1, max: 65535, default: fallback, description })

/** Settings of the machine: they always have a value. */
export const machineSettings = {
  NGINX_PORT: port(80, 'the port nginx listens on (the VM forwards HOST_PORT to it)'),
  AUTH_PORT: port(defaultPorts.auth, 'the Auth API HTTP port'),
  TRANSACTIONS_PORT: port(defaultPorts.transactions, 'the Transaction API HTTP port'),
  LOYALTY_PORT: port(defaultPorts.loyalty, 'the Loyalty Worker HTTP port'),
  DASHBOARD_PORT: port(defaultPorts.dashboard, 'the queue dashboard HTTP port'),
  LOYALTY_INSTANCES: { kind: 'integer', min: 1, max: 32, default: 2, description: 'Loyalty Worker processes (PM2 cluster)' },
  REDIS_MAXMEMORY: { kind: 'pattern', pattern: /^\d+(kb|mb|gb)$/i, default: '256mb', description: 'Redis memory limit, e.g. 256mb (writes fail past it, nothing is evicted)' },
} satisfies Record<string, Definition>

/** Settings of the services: passed on only when set, otherwise each service applies its own default. */
export const serviceSettings = {
  TOKEN_TTL_SECONDS: { kind: 'integer', min: 1, max: 86400, description: 'lifetime of issued JWTs in seconds' },
  LOYALTY_STAMPS_PER_VOUCHER: { kind: 'integer', min: 1, max: 1000, description: 'stamps that earn one voucher' },
  LOYALTY_CONCURRENCY: { kind: 'integer', min: 1, max: 200, description: 'jobs one Loyalty Worker process handles at once' },
  LOG_LEVEL: { kind: 'choice', choices: ['debug', 'info', 'warn', 'error', 'silent'], description: 'services log level' },
  SHUTDOWN_TIMEOUT_MS: { kind: 'integer', min: 100, max: 60000, description: 'milliseconds a service gets to finish on SIGTERM (PM2 waits 2 s longer)' },
  TRANSACTION_RETENTION: { kind: 'pattern', pattern: new RegExp(durationPattern), description: 'how long finished transaction records are kept, e.g. 90s, 30m, 24h, 7d' },
  QUEUE_MAX_BACKLOG: { kind: 'integer', min: 1, max: 10_000_000, description: 'transactions waiting to be processed above which new ones get 503 (unset: half of Redis maxmemory)' },
  REDIS_MEMORY_HIGH_WATER_PERCENT: { kind: 'integer', min: 50, max: 95, description: 'percent of Redis maxmemory above which new transactions get 503' },
  LOGIN_FAILURES_PER_USER: { kind: 'integer', min: 1, max: 1_000_000, description: 'failed logins allowed per username in a window' },
  LOGIN_FAILURES_PER_ADDRESS: { kind: 'integer', min: 1, max: 1_000_000, description: 'failed logins allowed per client address in a window' },
  LOGIN_FAILURE_WINDOW_SECONDS: { kind: 'integer', min: 1, max: 86400, description: 'the window of the failed-login limits, in seconds' },
} satisfies Record<string, Definition>

export interface Settings {
  nginxPort: number
  /** The port the host reaches nginx on (Vagrant's forward, HOST_PORT; else nginx's own): what the summary shows. */
  hostPort: number
  ports: Record<ServiceName, number>
  loyaltyInstances: number
  redisMaxmemory: string
  /** Service settings the user set, by variable name. */
  service: Record<string, string>
}

export class SettingsError extends Error {
  override name = 'SettingsError'
}

/** KEY=VALUE lines as a .env file has them: comments, blank lines, `export `, single or double quotes. */
export function parseDotenv(text: string): Record<string, string> {
  const values: Record<string, string> = {}
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
    if (match === null) continue
    let value = match[2]!
    const quoted = /^(["'])(.*)\1$/.exec(value)
    if (quoted !== null) value = quoted[2]!
    else value = value.replace(/\s+#.*$/, '')
    values[match[1]!] = value
  }
  return values
}

function check(name: string, raw: string, definition: Definition): string | undefined {
  switch (definition.kind) {
    case 'integer': {
      const value = Number(raw)
      return /^\d+$/.test(raw) && value >= definition.min && value <= definition.max
        ? undefined
        : `${name} must be an integer from ${definition.min} to ${definition.max} (${definition.description})`
    }
    case 'choice':
      return definition.choices.includes(raw) ? undefined : `${name} must be one of ${definition.choices.join(', ')}`
    case 'pattern':
      return definition.pattern.test(raw) ? undefined : `${name} is invalid: ${definition.description}`
  }
}

/**
 * The settings from the environment and the .env file's values (environment first), with defaults.
 * Throws one SettingsError naming every bad variable (values are not echoed).
 */
export function resolveSettings(env: Record<string, string | undefined>, dotenv: Record<string, string> = {}): Settings {
  const problems: string[] = []
  const pick = (name: string, definition: Definition): string | undefined => {
    const raw = [env[name], dotenv[name]].find((value) => value !== undefined && value !== '')
    if (raw === undefined) return undefined
    const problem = check(name, raw.trim(), definition)
    if (problem !== undefined) problems.push(problem)
    return raw.trim()
  }
  const machine: Record<string, string> = {}
  for (const [name, definition] of Object.entries(machineSettings)) {
    machine[name] = pick(name, definition) ?? String(definition.default)
  }
  const service: Record<string, string> = {}
  for (const [name, definition] of Object.entries(serviceSettings)) {
    const value = pick(name, definition)
    if (value !== undefined) service[name] = value
  }
  const ports = {
    auth: Number(machine.AUTH_PORT),
    transactions: Number(machine.TRANSACTIONS_PORT),
    loyalty: Number(machine.LOYALTY_PORT),
    dashboard: Number(machine.DASHBOARD_PORT),
  }
  const taken = [Number(machine.NGINX_PORT), ...Object.values(ports)]
  if (problems.length === 0 && new Set(taken).size !== taken.length) {
    problems.push('NGINX_PORT, AUTH_PORT, TRANSACTIONS_PORT, LOYALTY_PORT and DASHBOARD_PORT must all differ')
  }
  // Vagrant passes the host side of its port forward; it is only shown, never listened on.
  const hostPort = pick('HOST_PORT', port(Number(machine.NGINX_PORT), 'the host port forwarded to nginx'))
  if (problems.length > 0) throw new SettingsError(`Invalid settings: ${problems.join('; ')}`)
  return {
    nginxPort: Number(machine.NGINX_PORT),
    hostPort: Number(hostPort ?? machine.NGINX_PORT),
    ports,
    loyaltyInstances: Number(machine.LOYALTY_INSTANCES),
    redisMaxmemory: machine.REDIS_MAXMEMORY!.toLowerCase(),
    service,
  }
}
