// An isolated copy of the whole platform for fault, load and security tests: a real redis-server with
// the provisioned persistence settings (password, AOF everysec, noeviction), the compiled services run
// by a real PM2 from the app's own node_modules with ecosystem.config.cjs (cluster mode, wait_ready,
// kill_timeout, restart back-off: exactly what the machine runs), each process reading a 0600 env file
// as on the machine, and nginx rendered by nginx/render.ts. Everything listens on 127.0.0.1 on random
// ports, lives in a temp dir, and is torn down by stop(), even when a test fails half-way.
//
// PM2 here is its own daemon (PM2_HOME in the temp dir): it never talks to a provisioned machine's PM2.
// Needs `npm run build` first (PM2 runs dist/); start() refuses a dist/ older than services/.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { renderRouterConfig } from '../../nginx/render.ts'
import { developmentUsers, seedUsers } from '../../services/auth-api/seed.ts'
import { keys } from '../../services/shared/keys.ts'
import { appNamesOf, platform } from '../../services/shared/platform.ts'
import { signToken } from '../../services/shared/tokens.ts'
import { request } from './http-client.ts'
import { type NginxServer, startNginx } from './nginx-server.ts'
import { freePort } from './ports.ts'
import { type RedisServer, startRedis } from './redis-server.ts'

export const repoRoot = join(import.meta.dirname, '..', '..')
const pm2Bin = join(repoRoot, 'node_modules', 'pm2', 'bin', 'pm2')
const ecosystemFile = join(repoRoot, 'ecosystem.config.cjs')

export type AppName = string
/**
 * The apps of platform.json this harness runs: all but the queue dashboard, a UI for people that no
 * fault or security scenario involves (it would need a password and subscribe to kue's events).
 */
export const appNames: AppName[] = appNamesOf(platform).filter((app) => app !== 'dashboard')

export interface PlatformStackOptions {
  /** Loyalty Worker processes (PM2 cluster instances); default 2, as provisioned. */
  loyaltyInstances?: number
  loyaltyConcurrency?: number
  stampsPerVoucher?: number
  /** SHUTDOWN_TIMEOUT_MS of every service (PM2's kill_timeout follows it); default 8000, as provisioned. */
  shutdownTimeoutMs?: number
  tokenTtlSeconds?: number
  /** Extra redis-server arguments, e.g. ['--maxmemory', '32mb']. */
  redisArgs?: string[]
  /** nginx's token rate limit; default the provisioned one (nginx/routes.ts). */
  tokenRateLimit?: { ratePerSecond: number; burst: number }
  /** The Auth API's failed-login limits (LOGIN_FAILURES_PER_USER / _PER_ADDRESS); default the service's. */
  loginFailureLimits?: { perUser: number; perAddress: number }
  logLevel?: 'debug' | 'info' | 'warn'
  /** More service settings for the env file, e.g. { TRANSACTION_RETENTION: '2s' }. */
  settings?: Record<string, string>
}

export interface Pm2Process {
  name: string
  pm_id: number
  pid: number
  pm2_env: { status: string; restart_time: number; exec_mode: string; unstable_restarts?: number }
}

export interface QueueState {
  inactive: number
  active: number
  delayed: number
  failed: number
  complete: number
  /** Jobs in kue's index, in no state set, whose hash says inactive/active/delayed: taken and lost. */
  orphaned: number
  /** Jobs in kue's index with no state at all (a save that failed half-way, answered 503). */
  partial: number
  /** BLPOP tokens waiting in `q:transaction:jobs`. */
  tokens: number
}

export interface PlatformStack {
  /** nginx: http://127.0.0.1:<port> */
  url: string
  redis: RedisServer
  nginx: NginxServer
  ports: Record<AppName, number>
  jwtSecret: string
  stampsPerVoucher: number
  dir: string
  pm2Home: string
  /** Runs the app's own PM2 CLI against this stack's daemon. */
  pm2(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>
  /** `pm2 jlist`. */
  processes(): Promise<Pm2Process[]>
  /** A token as the Auth API issues it (HS256, this stack's secret). */
  token(userId: number, options?: { canTransact?: boolean; ttlSeconds?: number }): string
  /** kue's transaction queue as Redis holds it (one atomic script). */
  queueState(): Promise<QueueState>
  /** What PM2 collected from an app's stdout and stderr. */
  logs(app: AppName): Promise<string>
  /** Stops Redis (SIGTERM: a clean shutdown; SIGKILL: a crash), keeping its data directory. */
  stopRedis(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>
  /** Starts Redis again on the same port and data directory (it loads its AOF). */
  startRedis(): Promise<void>
  /** Waits until every app is online with `loyaltyInstances` workers and answers its health check through nginx. */
  waitHealthy(timeoutMs?: number): Promise<void>
  stop(): Promise<void>
}

const queueStateScript = `
local prefix, job_type = ARGV[1], ARGV[2]
local states = {'inactive', 'active', 'delayed', 'failed', 'complete'}
local counts = {}
for i, state in ipairs(states) do counts[i] = redis.call('ZCARD', prefix .. ':jobs:' .. job_type .. ':' .. state) end
local orphaned, partial = 0, 0
for _, member in ipairs(redis.call('ZRANGE', prefix .. ':jobs', 0, -1)) do
  local in_a_state = false
  for _, state in ipairs(states) do
    -- The type's own sets: popping a job removes it from the type's inactive set only.
    if redis.call('ZSCORE', prefix .. ':jobs:' .. job_type .. ':' .. state, member) then in_a_state = true break end
  end
  if not in_a_state then
    local id = string.sub(member, (string.find(member, '|', 1, true) or 0) + 1)
    local state = redis.call('HGET', prefix .. ':job:' .. id, 'state')
    if state == 'inactive' or state == 'active' or state == 'delayed' then orphaned = orphaned + 1 else partial = partial + 1 end
  end
end
counts[6] = orphaned
counts[7] = partial
counts[8] = redis.call('LLEN', prefix .. ':' .. job_type .. ':jobs')
return counts
`

/** kue's transaction queue as `client`'s Redis holds it (one atomic script): any platform's, PM2's or containers'. */
export async function readQueueState(client: Redis): Promise<QueueState> {
  const [inactive, active, delayed, failed, complete, orphaned, partial, tokens] = (await client.eval(queueStateScript, 0, keys.queuePrefix, 'transaction')) as number[]
  return { inactive: inactive!, active: active!, delayed: delayed!, failed: failed!, complete: complete!, orphaned: orphaned!, partial: partial!, tokens: tokens! }
}

async function newestMtime(dir: string, suffix: string): Promise<number> {
  let newest = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(suffix)) continue
    newest = Math.max(newest, (await stat(join(entry.parentPath, entry.name))).mtimeMs)
  }
  return newest
}

/** PM2 runs dist/: a stale build would test yesterday's code. */
export async function assertBuilt(): Promise<void> {
  const mains = ['auth-api', 'transaction-api', 'loyalty-worker'].map((name) => join(repoRoot, 'dist', 'services', name, 'main.js'))
  const missing = mains.filter((file) => !existsSync(file))
  if (missing.length > 0) throw new Error(`dist/ is not built (${missing.join(', ')} missing): run npm run build first`)
  const [sources, built] = await Promise.all([newestMtime(join(repoRoot, 'services'), '.ts'), newestMtime(join(repoRoot, 'dist', 'services'), '.js')])
  if (sources > built) throw new Error('dist/ is older than services/: run npm run build first')
}

// Pids this process started or saw (PM2 daemon and apps, redis-server, nginx): killed on an abrupt exit.
const startedPids = new Set<number>()
let emergencyArmed = false
function armEmergencyCleanup(): void {
  if (emergencyArmed) return
  emergencyArmed = true
  const killAll = (): void => {
    for (const pid of startedPids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  process.once('exit', killAll)
  // tap sends SIGTERM to a test file that runs past its timeout: do not leave daemons behind.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      killAll()
      process.exit(1)
    })
  }
}

function run(file: string, args: string[], options: { env: Record<string, string>; cwd: string; timeoutMs: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: options.env, cwd: options.cwd, timeout: options.timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

export async function startPlatform(options: PlatformStackOptions = {}): Promise<PlatformStack> {
  await assertBuilt()
  armEmergencyCleanup()
  const loyaltyInstances = options.loyaltyInstances ?? 2
  const stampsPerVoucher = options.stampsPerVoucher ?? 10
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 8000
  const jwtSecret = randomBytes(48).toString('base64url')
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-stack-'))
  const pm2Home = join(dir, 'pm2')
  const envFile = join(dir, 'platform.env')
  const cleanups: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true })]
  const cleanUp = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
    cleanups.length = 0
  }

  try {
    const redis = await startRedis(options.redisArgs ?? [])
    cleanups.push(() => redis.stop())
    const rememberRedis = async (): Promise<void> => {
      const pid = Number(/process_id:(\d+)/.exec(await redis.client.info('server'))?.[1])
      if (pid > 0) startedPids.add(pid)
    }
    await rememberRedis()

    const ports: Record<AppName, number> = {}
    for (const app of appNames) ports[app] = await freePort()
    // The env file as the provisioner writes it (provision/lib/env-file.ts), mode 0600.
    const settings: Record<string, string> = {
      JWT_SECRET: jwtSecret,
      REDIS_PASSWORD: redis.password,
      REDIS_URL: redis.url,
      LOYALTY_STAMPS_PER_VOUCHER: String(stampsPerVoucher),
      LOYALTY_CONCURRENCY: String(options.loyaltyConcurrency ?? 10),
      TOKEN_TTL_SECONDS: String(options.tokenTtlSeconds ?? 30),
      ...(options.loginFailureLimits === undefined
        ? {}
        : { LOGIN_FAILURES_PER_USER: String(options.loginFailureLimits.perUser), LOGIN_FAILURES_PER_ADDRESS: String(options.loginFailureLimits.perAddress) }),
      LOG_LEVEL: options.logLevel ?? 'info',
      ...options.settings,
    }
    await writeFile(envFile, Object.entries(settings).map(([name, value]) => `${name}=${value}\n`).join(''), { mode: 0o600 })

    // A clean environment: nothing of the test runner's (NODE_OPTIONS loaders, coverage) reaches PM2.
    const pm2Env = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: dir,
      PM2_HOME: pm2Home,
      YOYO_ENV_FILE: envFile,
      ...Object.fromEntries(appNames.map((app) => [platform.apps[app]!.port, String(ports[app])])),
      LOYALTY_INSTANCES: String(loyaltyInstances),
      SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
    }
    const pm2 = (args: string[], timeoutMs = 120_000) => run(process.execPath, [pm2Bin, ...args], { env: pm2Env, cwd: repoRoot, timeoutMs })
    const daemonPid = async (): Promise<number> => Number(await readFile(join(pm2Home, 'pm2.pid'), 'utf8').catch(() => '0'))
    const processes = async (): Promise<Pm2Process[]> => {
      const { code, stdout, stderr } = await pm2(['jlist'])
      if (code !== 0) throw new Error(`pm2 jlist: exit ${code}: ${stderr || stdout}`)
      for (const line of stdout.trim().split('\n').reverse()) {
        try {
          const list = JSON.parse(line) as unknown
          if (Array.isArray(list)) {
            for (const p of list as Pm2Process[]) if (p.pid > 0) startedPids.add(p.pid)
            return list as Pm2Process[]
          }
        } catch {
          // a notice, not the list
        }
      }
      throw new Error(`pm2 jlist printed no list: ${stdout.slice(0, 300)}`)
    }
    cleanups.push(async () => {
      const apps = await processes().catch(() => [] as Pm2Process[])
      const daemon = await daemonPid()
      await pm2(['kill'], 60_000)
      // Anything PM2 did not take down (it should have): by pid, only ours.
      for (const pid of [...apps.map((p) => p.pid), daemon]) {
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGKILL')
          } catch {
            // gone, as it should be
          }
        }
      }
    })

    // The harness's apps of the ecosystem (the dashboard is not this harness's business).
    const started = await pm2(['start', ecosystemFile, '--only', appNames.join(',')])
    const daemon = await daemonPid()
    if (daemon > 0) startedPids.add(daemon)
    if (started.code !== 0) throw new Error(`pm2 start: exit ${started.code}: ${started.stderr || started.stdout}`)

    await seedUsers(redis.client, developmentUsers)

    const nginx = await startNginx((port) =>
      renderRouterConfig({
        listen: `127.0.0.1:${port}`,
        upstreams: Object.fromEntries(appNames.map((app) => [app, `127.0.0.1:${ports[app]}`])),
        accessLog: 'off',
        ...(options.tokenRateLimit ? { rateLimit: options.tokenRateLimit } : {}),
      }),
    )
    cleanups.push(() => nginx.stop())
    const nginxPid = Number(await readFile(join(nginx.dir, 'nginx.pid'), 'utf8').catch(() => ''))
    if (nginxPid > 0) startedPids.add(nginxPid)

    const waitHealthy = async (timeoutMs = 60_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs
      let seen = ''
      for (;;) {
        try {
          const list = await processes()
          const online = (name: AppName) => list.filter((p) => p.name === name && p.pm2_env.status === 'online').length
          const counts = Object.fromEntries(appNames.map((app) => [app, online(app)]))
          seen = JSON.stringify(counts)
          if (appNames.every((app) => counts[app] === (app === 'loyalty' ? loyaltyInstances : 1))) {
            const health = await Promise.all(
              appNames.map((app) => {
                const { route, health: path } = platform.apps[app]!
                return request(`${nginx.url}${route.prefix}${path}`, { timeoutMs: 3000 }).then((r) => r.status, () => 0)
              }),
            )
            seen += ` health ${health.join(',')}`
            if (health.every((status) => status === 200)) return
          }
        } catch (err) {
          seen = err instanceof Error ? err.message : String(err)
        }
        if (Date.now() > deadline) {
          const errors = await readFile(join(pm2Home, 'logs', 'loyalty-error.log'), 'utf8').catch(() => '')
          throw new Error(`the platform did not become healthy within ${timeoutMs} ms: ${seen} ${errors.slice(-1000)}`)
        }
        await sleep(200)
      }
    }
    await waitHealthy()

    return {
      url: nginx.url,
      redis,
      nginx,
      ports,
      jwtSecret,
      stampsPerVoucher,
      dir,
      pm2Home,
      pm2,
      processes,
      token: (userId, tokenOptions = {}) =>
        signToken({ user_id: userId, username: `user-${userId}`, can_transact: tokenOptions.canTransact ?? true }, jwtSecret, tokenOptions.ttlSeconds ?? 30),
      queueState: () => readQueueState(redis.client),
      logs: async (app) => {
        const read = (suffix: string) => readFile(join(pm2Home, 'logs', `${app}-${suffix}.log`), 'utf8').catch(() => '')
        return `${await read('out')}${await read('error')}`
      },
      stopRedis: (signal) => redis.kill(signal),
      startRedis: async () => {
        await redis.start()
        await rememberRedis()
      },
      waitHealthy,
      stop: cleanUp,
    }
  } catch (err) {
    await cleanUp()
    throw err
  }
}

/** Lines of a JSON-lines log that parse, as objects. */
export function logEntries(text: string): Record<string, unknown>[] {
  const entries: Record<string, unknown>[] = []
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue
    try {
      entries.push(JSON.parse(line) as Record<string, unknown>)
    } catch {
      // a partial line or not JSON
    }
  }
  return entries
}
