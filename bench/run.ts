// `npm run bench` (`-- --smoke` for CI): benchmarks the provisioned platform end to end through nginx
// and prints a table, written as JSON and Markdown to bench/results/<mode>.{json,md}. See
// docs/performance.md for what each scenario measures and where the platform stands.
//
// Options: --smoke (a few seconds per scenario), --only http,redis,auth,e2e,memory,drain,sustained,provision,
// first-provision,change-live (those two stop or redeploy the machine's platform: not in --smoke),
// --runs n, --duration s, --connections n, --jobs n, --instances 1,2,4, --rate n, --sustained s
// (the sustained scenario's seconds per run), --provision-dir path,
// --env-file path, --no-wait (do not wait for a CI run to finish).
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { renderRouterConfig } from '../nginx/render.ts'
import { defaultPorts } from '../nginx/routes.ts'
import { type NginxServer, startNginx } from '../test/helpers/nginx-server.ts'
import type { Context, Settings } from './lib/context.ts'
import { readEnvFile } from './lib/platform.ts'
import { startTarget, type Target, waitForCi } from './lib/processes.ts'
import { markdown, type Report, table } from './lib/report.ts'
import { authScenario } from './scenarios/auth.ts'
import { changeLiveScenario } from './scenarios/change-live.ts'
import { drainScenario } from './scenarios/drain.ts'
import { e2eScenario } from './scenarios/e2e.ts'
import { firstProvisionScenario } from './scenarios/first-provision.ts'
import { httpScenario } from './scenarios/http.ts'
import { memoryScenario } from './scenarios/memory.ts'
import { provisionScenario } from './scenarios/provision.ts'
import { redisScenario } from './scenarios/redis.ts'
import { sustainedScenario } from './scenarios/sustained.ts'
import { benchRedisUser } from './lib/redis-user.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
    duration: { type: 'string' },
    connections: { type: 'string' },
    jobs: { type: 'string' },
    instances: { type: 'string' },
    rate: { type: 'string' },
    sustained: { type: 'string' },
    'provision-dir': { type: 'string' },
    'env-file': { type: 'string', default: '/etc/yoyo-platform/platform.env' },
    'no-wait': { type: 'boolean', default: false },
  },
})
const smoke = values.smoke
const num = (value: string | undefined, fallback: number): number => (value === undefined ? fallback : Number(value))
const settings: Settings = {
  smoke,
  runs: num(values.runs, smoke ? 1 : 3),
  durationSeconds: num(values.duration, smoke ? 2 : 5),
  connections: num(values.connections, 10),
  drainJobs: num(values.jobs, smoke ? 500 : 20_000),
  loyaltyInstances: (values.instances ?? (smoke ? '1,2' : '1,2,4')).split(',').map(Number),
  e2eRate: num(values.rate, smoke ? 50 : 500),
  e2eSeconds: smoke ? 2 : 10,
  sustainedSeconds: num(values.sustained, smoke ? 3 : 20),
  sustainedConnections: 32,
  provisionDir: values['provision-dir'] ?? root,
}
// first-provision and change-live stop or redeploy the machine's platform (about 2 minutes): full runs only.
const scenarios = new Set((values.only ?? `memory,redis,http,auth,e2e,sustained,drain,provision${smoke ? '' : ',change-live,first-provision'}`).split(','))
const log = (line: string): void => void process.stdout.write(`${line}\n`)

/** The platform's router config (same renderer as the provisioner) with the token rate limit lifted. */
function routerConfig(port: number, upstreams: Record<'auth' | 'transactions' | 'loyalty', string>): string {
  return renderRouterConfig({ listen: `127.0.0.1:${port}`, upstreams, accessLog: 'off', rateLimit: { ratePerSecond: 100000, burst: 100000 } })
}

async function main(): Promise<void> {
  const started = Date.now()
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(', ')
  const platformEnv = await readEnvFile(values['env-file'])
  const ports = {
    auth: num(platformEnv.AUTH_PORT ?? process.env.AUTH_PORT, defaultPorts.auth!),
    transactions: num(platformEnv.TRANSACTIONS_PORT ?? process.env.TRANSACTIONS_PORT, defaultPorts.transactions!),
    loyalty: num(platformEnv.LOYALTY_PORT ?? process.env.LOYALTY_PORT, defaultPorts.loyalty!),
    nginx: num(process.env.NGINX_PORT, 80),
  }
  if (!values['no-wait']) await waitForCi(30 * 60_000, log)
  const benchUser = await benchRedisUser(platformEnv)
  const redisUrl = benchUser.url
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 })
  const targets: Target[] = []
  const nginxes: NginxServer[] = []
  try {
    await redis.connect()
    log(`starting the baselines (node:http, express echo) and two bench nginx...`)
    const node = await startTarget('node-http.ts')
    targets.push(node)
    const express = await startTarget('express-echo.ts')
    targets.push(express)
    const portOf = (t: Target) => `127.0.0.1:${(JSON.parse(t.firstLine) as { port: number }).port}`
    const baselineRouter = await startNginx((port) => routerConfig(port, { auth: portOf(node), transactions: portOf(express), loyalty: portOf(node) }))
    nginxes.push(baselineRouter)
    const platformRouter = await startNginx((port) =>
      routerConfig(port, { auth: `127.0.0.1:${ports.auth}`, transactions: `127.0.0.1:${ports.transactions}`, loyalty: `127.0.0.1:${ports.loyalty}` }),
    )
    nginxes.push(platformRouter)
    const baselinePids = { node: node.child.pid!, express: express.child.pid! }
    const ctx: Context = { settings, log, rows: [], notes: [], platformEnv, redisUrl, redis, ports, platformRouter, baselineRouter, baselinePids }
    const steps: [string, string, () => Promise<void>][] = [
      ['memory', '6 memory, idle', () => memoryScenario(ctx, 'idle')],
      ['redis', '1 Redis ceiling (redis-benchmark)', () => redisScenario(ctx)],
      ['http', '1 + 3 HTTP baselines and POST /transactions', () => httpScenario(ctx)],
      ['auth', '2 POST /authentication/token', () => authScenario(ctx)],
      ['e2e', '5 end-to-end latency', () => e2eScenario(ctx)],
      ['sustained', '8 sustained load through :80 with the workers running', () => sustainedScenario(ctx)],
      ['memory', '6 memory, after load', () => memoryScenario(ctx, 'after load')],
      ['drain', '4 loyalty drain', () => drainScenario(ctx)],
    ]
    // These run the provisioner, which compares Redis's ACL file too: after the bench's own user is gone.
    const provisioning: typeof steps = [
      ['provision', '7 provisioning', () => provisionScenario(ctx)],
      ['change-live', '10 change → live', () => changeLiveScenario(ctx)],
      ['first-provision', '9 first provisioning', () => firstProvisionScenario(ctx)],
    ]
    for (const [key, title, step] of steps) {
      if (!scenarios.has(key)) continue
      log(`scenario ${title}...`)
      await step()
    }
    await benchUser.remove()
    for (const [key, title, step] of provisioning) {
      if (!scenarios.has(key)) continue
      log(`scenario ${title}...`)
      await step()
    }
    const report: Report = {
      mode: smoke ? 'smoke' : 'full',
      startedAt: new Date(started).toISOString(),
      seconds: (Date.now() - started) / 1000,
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', node: process.version, loadBefore, loadAfter: loadavg().map((x) => x.toFixed(2)).join(', ') },
      settings: { ...settings },
      rows: ctx.rows,
      notes: ctx.notes,
    }
    log(`\n${table(ctx.rows)}\n`)
    for (const note of ctx.notes) log(`note: ${note}`)
    log(`load average before: ${loadBefore}; after: ${report.machine.loadAfter}`)
    const dir = join(root, 'bench', 'results')
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, `${report.mode}.json`), `${JSON.stringify(report, null, 2)}\n`)
    await writeFile(join(dir, `${report.mode}.md`), markdown(report))
    log(`written: bench/results/${report.mode}.json and bench/results/${report.mode}.md`)
  } finally {
    await Promise.all(targets.map((t) => t.stop()))
    await Promise.all(nginxes.map((n) => n.stop()))
    redis.disconnect()
    await benchUser.remove()
  }
}

await main()
