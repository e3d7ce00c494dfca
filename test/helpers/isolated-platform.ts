// An isolated yoyo-platform for one test file (services run from source, no PM2; for the fault tests'
// PM2-run stack see platform-stack.ts): a real Redis, the four services as child processes
// (run from source with tsx, as PM2 runs the build: one process each, kue's queue is a per-process
// singleton), and a real nginx in front with the router config rendered from nginx/routes.ts, the
// docs site included. Random loopback ports; nothing of the provisioned machine is used.
import { type ChildProcessByStdio, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { docsSiteFiles } from '../../nginx/docs-site.ts'
import { renderRouterConfig } from '../../nginx/render.ts'
import type { ServiceName } from '../../nginx/routes.ts'
import { appNamesOf, platform, sourceEntryOf } from '../../services/shared/platform.ts'
import { developmentUsers, seedUsers } from '../../services/auth-api/seed.ts'
import { openApiDocument } from '../../services/shared/openapi.ts'
import { type NginxServer, startNginx } from './nginx-server.ts'
import { freePort } from './ports.ts'
import { type RedisServer, startRedis } from './redis-server.ts'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

export const serviceNames: ServiceName[] = appNamesOf(platform)

export interface ServiceProcess {
  name: ServiceName
  port: number
  /** The service's last log lines (JSON) and stderr, for failure messages. */
  output(): string
  running(): boolean
}

export interface IsolatedPlatform {
  /** nginx: http://127.0.0.1:<port> */
  url: string
  redis: RedisServer
  nginx: NginxServer
  dashboard: { user: string; password: string }
  services: Record<ServiceName, ServiceProcess>
  /** Starts a service that was left out (or stopped), and waits for its /health. */
  startService(name: ServiceName): Promise<void>
  stopService(name: ServiceName): Promise<void>
  stop(): Promise<void>
}

export interface IsolatedPlatformOptions {
  /** Services not to start now (startService starts them later), e.g. the Loyalty Worker, to see jobs wait. */
  deferred?: ServiceName[]
}

/** Starts the stack; every part started is stopped by stop(), also when the start fails half-way. */
export async function startIsolatedPlatform(options: IsolatedPlatformOptions = {}): Promise<IsolatedPlatform> {
  const cleanups: (() => Promise<void>)[] = []
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
  }
  try {
    const redis = await startRedis()
    cleanups.push(() => redis.stop())
    await seedUsers(redis.client, developmentUsers)
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      JWT_SECRET: randomBytes(32).toString('base64url'),
      QUEUE_DASHBOARD_PASSWORD: randomBytes(18).toString('base64url'),
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_MS: '3000',
      NODE_ENV: 'production',
    }
    const children = new Map<ServiceName, Child>()
    const services = {} as Record<ServiceName, ServiceProcess>
    for (const name of serviceNames) {
      const port = await freePort()
      services[name] = { name, port, output: () => children.get(name)?.output() ?? '(not started)', running: () => children.get(name)?.running() ?? false }
    }
    const startService = async (name: ServiceName): Promise<void> => {
      if (children.get(name)?.running()) return
      // Each service as its own Redis user: only what the ACL gives it.
      const child = spawnService(name, { ...env, REDIS_URL: redis.urlOf(name), HTTP_PORT: String(services[name]!.port) })
      children.set(name, child)
      await child.ready(services[name]!.port)
    }
    const stopService = async (name: ServiceName): Promise<void> => {
      await children.get(name)?.stop()
    }
    cleanups.push(async () => {
      await Promise.all([...children.values()].map((child) => child.stop()))
    })
    const deferred = new Set(options.deferred ?? [])
    await Promise.all(serviceNames.filter((name) => !deferred.has(name)).map(startService))

    const docsDir = await mkdtemp(join(tmpdir(), 'yoyo-docs-'))
    cleanups.push(() => rm(docsDir, { recursive: true, force: true }))
    for (const [file, content] of await docsSiteFiles(join(repoRoot, 'node_modules', 'swagger-ui-dist'), openApiDocument)) {
      await writeFile(join(docsDir, file), content)
    }
    const upstreams = Object.fromEntries(serviceNames.map((name) => [name, `127.0.0.1:${services[name]!.port}`]))
    const nginx = await startNginx((port) => renderRouterConfig({ listen: `127.0.0.1:${port}`, upstreams, staticRoots: { docs: docsDir }, accessLog: 'off' }))
    cleanups.push(() => nginx.stop())
    return {
      url: nginx.url,
      redis,
      nginx,
      dashboard: { user: 'admin', password: env.QUEUE_DASHBOARD_PASSWORD },
      services,
      startService,
      stopService,
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

interface Child {
  ready(port: number): Promise<void>
  running(): boolean
  output(): string
  stop(): Promise<void>
}

function spawnService(name: ServiceName, env: Record<string, string>): Child {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(process.execPath, ['--import', 'tsx', sourceEntryOf(platform, name)], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter((line) => line.trim() !== ''))
    lines.splice(0, Math.max(0, lines.length - 40))
  }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const running = () => child.exitCode === null && child.signalCode === null
  const output = () => `${name}: ${lines.join('\n')}`
  return {
    running,
    output,
    async ready(port) {
      const deadline = Date.now() + 30_000
      for (;;) {
        if (!running()) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was healthy:\n${output()}`)
        const status = await fetch(`http://127.0.0.1:${port}/health`).then((res) => res.status, () => 0)
        if (status === 200) return
        if (Date.now() > deadline) throw new Error(`${name} not healthy on port ${port} within 30 s:\n${output()}`)
        await sleep(100)
      }
    },
    async stop() {
      if (!running()) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 8000)
      await exited
      clearTimeout(killer)
    },
  }
}
