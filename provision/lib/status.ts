// The platform at a glance, for `yoyo-status` / `npm run status` and the provisioner's closing summary:
// each service's health through nginx, the PM2 apps, Redis, the queue, and the URLs to open. Collecting
// goes through small probes (HTTP, a command, a file), so the evaluation and the text are tested without
// a machine; the real probes are in realProbes.
import { readFile } from 'node:fs/promises'
import { $ } from 'zx'
import { REDIS_PORT } from './env-file.ts'
import { PROVISIONER_USER } from '../render/redis-acl.ts'
import { parseDotenv } from './settings.ts'
import { platform, publicHealthPathsOf } from '../../services/shared/platform.ts'
import { parsePm2List, type Pm2Process } from './pm2-list.ts'

export interface StatusOptions {
  /** Where nginx answers on this machine, e.g. http://127.0.0.1:80. */
  baseUrl: string
  /** What to open from the host (Vagrant: http://localhost:8080). */
  hostUrl: string
  envFile: string
  /** The pm2 command (the provisioner's wrapper, /usr/local/bin/pm2). */
  pm2: string
  /** PM2 apps that must be online (loyalty may run any number of instances). */
  apps: string[]
  /** Who may log in to the dashboard. */
  dashboardUser: string
}

export interface HttpAnswer {
  status: number
  body: unknown
  ms: number
}

export interface CommandResult {
  code: number
  stdout: string
  stderr: string
}

export interface Probes {
  /** GET url; rejects when there is no HTTP answer at all. */
  http(url: string): Promise<HttpAnswer>
  command(argv: string[], env?: Record<string, string>): Promise<CommandResult>
  /** The file's text, or undefined when it cannot be read (missing, or no permission). */
  readText(path: string): Promise<string | undefined>
}

export interface Check {
  ok: boolean
  name: string
  detail: string
}

export interface QueueCounts {
  waiting: number
  active: number
  delayed: number
  failed: number
  completed: number
}

export interface PlatformStatus {
  healthy: boolean
  baseUrl: string
  services: Check[]
  pm2: Check[]
  redis: Check[]
  queue: QueueCounts | undefined
  links: { name: string; url: string; note?: string }[]
  /** One line per problem, for the headline and for scripts. */
  problems: string[]
}

/** What each public part answers on, through nginx (from platform.json). */
export const healthPaths: { name: string; path: string }[] = publicHealthPathsOf(platform)

interface Admission {
  accepting?: unknown
  shedding?: unknown
  queue?: { backlog?: number; max_backlog?: number }
  redis_memory?: { used?: number; max?: number; high_water?: number }
}

/**
 * The Transaction API's admission control, from its /health: whether it takes new transactions, the
 * backlog against its bound and Redis's memory against the high-water mark. Refusing (shedding load) is
 * a problem: the platform is up but not taking transactions.
 */
export function admissionDetail(body: Admission): { ok: boolean; detail: string } {
  const count = (n: number | undefined): string => (n === undefined ? '?' : n.toLocaleString('en'))
  const mb = (n: number | undefined): string => (n === undefined ? '?' : `${(n / 1024 / 1024).toFixed(1)} MB`)
  const memory = body.redis_memory
  const parts = [`backlog ${count(body.queue?.backlog)} of ${count(body.queue?.max_backlog)}`]
  if (memory !== undefined) parts.push(memory.max ? `Redis ${mb(memory.used)} used, refuses above ${mb(memory.high_water)}` : `Redis ${mb(memory.used)} used, no limit`)
  if (body.accepting === false) return { ok: false, detail: `NOT accepting new transactions: ${String(body.shedding ?? 'queue full')} (${parts.join(', ')})` }
  return { ok: true, detail: `accepting, ${parts.join(', ')}` }
}

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 160)

async function checkServices(options: StatusOptions, probes: Probes): Promise<{ checks: Check[]; queue: QueueCounts | undefined }> {
  let queue: QueueCounts | undefined
  const checks = await Promise.all(
    healthPaths.map(async ({ name, path }): Promise<Check> => {
      try {
        const answer = await probes.http(`${options.baseUrl}${path}`)
        const body = answer.body as { healthy?: unknown; queue?: QueueCounts; openapi?: unknown; failing?: unknown } | undefined
        const ok = answer.status === 200 && (name === 'docs' ? typeof body?.openapi === 'string' : body?.healthy === true)
        if (name === 'loyalty' && ok && body?.queue !== undefined) queue = body.queue
        const failing = Array.isArray(body?.failing) ? ` (failing: ${body.failing.join(', ')})` : ''
        const detail = `GET ${path} → ${answer.status}${failing} in ${Math.round(answer.ms)} ms`
        if (name === 'transactions' && ok && body !== undefined && 'accepting' in body) {
          const admission = admissionDetail(body as Admission)
          return { ok: admission.ok, name, detail: `${detail}; ${admission.detail}` }
        }
        return { ok, name, detail }
      } catch (err) {
        return { ok: false, name, detail: `GET ${path}: no answer (${describe(err)})` }
      }
    }),
  )
  return { checks, queue }
}

const megabytes = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MB`

function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 120) return `${s}s`
  if (s < 7200) return `${Math.floor(s / 60)}m`
  if (s < 172800) return `${Math.floor(s / 3600)}h`
  return `${Math.floor(s / 86400)}d`
}

export function pm2Checks(list: Pm2Process[], apps: string[], now: number): Check[] {
  const expected = apps.map((name): Check => {
    const processes = list.filter((p) => p.name === name)
    if (processes.length === 0) return { ok: false, name, detail: 'not running under PM2' }
    const online = processes.filter((p) => p.pm2_env?.status === 'online')
    const memory = processes.reduce((sum, p) => sum + (p.monit?.memory ?? 0), 0)
    const restarts = processes.reduce((sum, p) => sum + (p.pm2_env?.restart_time ?? 0), 0)
    const mode = (processes[0]!.pm2_env?.exec_mode ?? '?').replace(/_mode$/, '')
    const oldest = Math.min(...online.map((p) => p.pm2_env?.pm_uptime ?? now))
    const others = [...new Set(processes.filter((p) => p.pm2_env?.status !== 'online').map((p) => p.pm2_env?.status ?? '?'))]
    const state = online.length === processes.length ? 'online' : `online (${others.join(', ')}: ${processes.length - online.length})`
    return {
      ok: online.length === processes.length,
      name,
      detail: `${online.length}/${processes.length} ${state}, ${mode}, ${megabytes(memory)}, ${restarts} restart${restarts === 1 ? '' : 's'}${online.length > 0 ? `, up ${duration(now - oldest)}` : ''}`,
    }
  })
  const extra = [...new Set(list.map((p) => p.name).filter((name) => !apps.includes(name)))].map((name) => ({
    ok: true,
    name,
    detail: `${list.filter((p) => p.name === name).length} process(es), not one of the platform's apps`,
  }))
  return [...expected, ...extra]
}

async function checkPm2(options: StatusOptions, probes: Probes): Promise<Check[]> {
  let result: CommandResult
  try {
    result = await probes.command([options.pm2, 'jlist'])
  } catch (err) {
    return [{ ok: false, name: 'pm2', detail: `cannot run ${options.pm2}: ${describe(err)}` }]
  }
  const list = result.code === 0 ? parsePm2List(result.stdout) : undefined
  if (list === undefined) return [{ ok: false, name: 'pm2', detail: `${options.pm2} jlist failed: ${(result.stderr || result.stdout).trim().split('\n')[0] ?? `exit ${result.code}`}` }]
  return pm2Checks(list, options.apps, Date.now())
}

/** INFO's `key:value` lines. */
export function parseRedisInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) info[line.slice(0, colon)] = line.slice(colon + 1).trim()
  }
  return info
}

export function redisDetail(info: Record<string, string>): Check {
  const maxmemory = Number(info.maxmemory ?? 0)
  const memory = `${info.used_memory_human ?? '?'} used${maxmemory > 0 ? ` of ${info.maxmemory_human} (${info.maxmemory_policy ?? '?'})` : ''}`
  const aof = info.aof_enabled === '1'
  const writesOk = (info.aof_last_write_status ?? 'ok') === 'ok' && (info.rdb_last_bgsave_status ?? 'ok') === 'ok'
  const persistence = aof ? `AOF on (last write ${info.aof_last_write_status ?? '?'})` : `AOF off, RDB last save ${info.rdb_last_bgsave_status ?? '?'}`
  return {
    ok: writesOk,
    name: 'redis',
    detail: `up ${duration(Number(info.uptime_in_seconds ?? 0) * 1000)}, ${memory}, ${persistence}, ${info.connected_clients ?? '?'} clients`,
  }
}

async function checkRedis(options: StatusOptions, probes: Probes): Promise<Check[]> {
  const settings = parseDotenv((await probes.readText(options.envFile)) ?? '')
  const url = new URL(settings.REDIS_URL ?? `redis://127.0.0.1:${REDIS_PORT}/0`)
  const host = url.hostname || '127.0.0.1'
  const port = url.port || String(REDIS_PORT)
  const where = `${host}:${port}`
  // As the provisioner's Redis user (INFO is all it reads).
  const cli = (args: string[], password?: string) =>
    password === undefined
      ? probes.command(['redis-cli', '-h', host, '-p', port, ...args], {})
      : probes.command(['redis-cli', '-h', host, '-p', port, '--user', PROVISIONER_USER, ...args], { REDISCLI_AUTH: password })
  try {
    if (settings.REDIS_PASSWORD === undefined) {
      // Without the password (the env file is 0600 yoyo): the answer still tells whether Redis is up.
      const ping = await cli(['ping'])
      const answer = `${ping.stdout}${ping.stderr}`.trim()
      if (/^PONG$|NOAUTH|WRONGPASS|Authentication required/i.test(answer)) {
        return [{ ok: true, name: 'redis', detail: `up on ${where} (memory and persistence: needs the password, run with sudo)` }]
      }
      return [{ ok: false, name: 'redis', detail: `not answering on ${where}: ${answer.split('\n')[0] || `exit ${ping.code}`}` }]
    }
    const result = await cli(['info'], settings.REDIS_PASSWORD)
    const info = parseRedisInfo(result.stdout)
    if (result.code !== 0 || info.redis_version === undefined) {
      return [{ ok: false, name: 'redis', detail: `not answering on ${where}: ${`${result.stdout}${result.stderr}`.trim().split('\n')[0] || `exit ${result.code}`}` }]
    }
    const check = redisDetail(info)
    return [{ ...check, detail: `${where}, ${check.detail}` }]
  } catch (err) {
    return [{ ok: false, name: 'redis', detail: `cannot run redis-cli: ${describe(err)}` }]
  }
}

export async function collectStatus(options: StatusOptions, probes: Probes = realProbes): Promise<PlatformStatus> {
  const [{ checks: services, queue }, pm2, redis] = await Promise.all([checkServices(options, probes), checkPm2(options, probes), checkRedis(options, probes)])
  const problems = [...services, ...pm2, ...redis].filter((check) => !check.ok).map((check) => `${check.name}: ${check.detail}`)
  // URL drops a default port: http://localhost, not http://localhost:80.
  const host = new URL(options.hostUrl).origin
  return {
    healthy: problems.length === 0,
    baseUrl: options.baseUrl,
    services,
    pm2,
    redis,
    queue,
    links: [
      { name: 'API docs', url: `${host}/docs/` },
      { name: 'queue dashboard', url: `${host}/queue/`, note: `user ${options.dashboardUser}, password: sudo grep QUEUE_DASHBOARD_PASSWORD ${options.envFile}` },
      { name: 'API', url: `${host}/authentication/token`, note: `and ${host}/transactions, ${host}/loyalty/me` },
    ],
    problems,
  }
}

const line = (check: Check): string => `  ${check.ok ? 'ok  ' : 'FAIL'}  ${check.name.padEnd(13)} ${check.detail}`

export function formatStatus(status: PlatformStatus): string {
  const out = [
    status.healthy ? 'yoyo-platform: healthy' : `yoyo-platform: UNHEALTHY (${status.problems.length} problem${status.problems.length === 1 ? '' : 's'})`,
    '',
    `Services, through nginx (${status.baseUrl})`,
    ...status.services.map(line),
    'PM2',
    ...status.pm2.map(line),
    'Redis',
    ...status.redis.map(line),
    'Queue (transaction jobs, from /loyalty/health)',
    status.queue === undefined
      ? '  unknown (the Loyalty Worker does not answer)'
      : `  waiting ${status.queue.waiting}, active ${status.queue.active}, delayed ${status.queue.delayed}, failed ${status.queue.failed}, completed ${status.queue.completed}` +
        (status.queue.failed > 0 ? '  (failed jobs: see the dashboard)' : ''),
    'Open',
    ...status.links.map((link) => `  ${link.name.padEnd(16)} ${link.url}${link.note ? `  (${link.note})` : ''}`),
  ]
  return `${out.join('\n')}\n`
}

/** The real probes: fetch, zx, the file system. */
export const realProbes: Probes = {
  async http(url) {
    const started = performance.now()
    const res = await fetch(url, { signal: AbortSignal.timeout(5000), headers: { 'user-agent': 'yoyo-status' } })
    const text = await res.text()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
    return { status: res.status, body, ms: performance.now() - started }
  },
  async command(argv, env = {}) {
    // NODE_OPTIONS of the caller (a test runner's loader) is not for PM2's Node.js.
    const { NODE_OPTIONS: _ignored, ...inherited } = process.env
    const [file, ...args] = argv
    const output = await $({ nothrow: true, quiet: true, timeout: '20s', env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })`${file} ${args}`
    return { code: output.exitCode ?? 1, stdout: output.stdout, stderr: output.stderr }
  },
  readText: (path) => readFile(path, 'utf8').catch(() => undefined),
}
