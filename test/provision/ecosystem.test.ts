// ecosystem.config.cjs as PM2 sees it, and for real under PM2 (from the app's own node_modules) with
// stub apps in place of the built services: cluster mode, ports, and secrets read by each process
// from the env file (node --env-file) without passing through PM2's saved list.
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import t from 'tap'
import { platform } from '../../services/shared/platform.ts'
import { freePort } from '../helpers/ports.ts'

const run = promisify(execFile)
const root = join(import.meta.dirname, '..', '..')
const ecosystemFile = join(root, 'ecosystem.config.cjs')

interface App {
  name: string
  script: string
  exec_mode: string
  instances: number
  node_args: string[]
  wait_ready: boolean
  listen_timeout: number
  kill_timeout: number
  env: Record<string, string>
}

/** The config as PM2 would load it with this environment (in a fresh process: it reads env at load). */
async function load(env: Record<string, string>): Promise<App[]> {
  const { stdout } = await run(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(ecosystemFile)}).apps))`], { env: { PATH: process.env.PATH ?? '', ...env } })
  return JSON.parse(stdout) as App[]
}

t.test('when loaded with no settings, then three cluster apps and the dashboard on the default ports, 2 loyalty workers', async (t) => {
  const apps = await load({ YOYO_ENV_FILE: '/nonexistent/platform.env' })
  t.same(apps.map((a) => [a.name, a.script, a.exec_mode, a.instances, a.env.HTTP_PORT]), [
    ['auth', 'dist/services/auth-api/main.js', 'cluster', 1, '5000'],
    ['transactions', 'dist/services/transaction-api/main.js', 'cluster', 1, '5001'],
    ['loyalty', 'dist/services/loyalty-worker/main.js', 'cluster', 2, '5002'],
    ['dashboard', 'dist/services/queue-dashboard/main.js', 'fork', 1, '5003'],
  ])
  for (const app of apps) {
    t.equal(app.wait_ready, true)
    t.ok(app.kill_timeout > 8000, 'PM2 waits longer than the services\' shutdown timeout')
    t.same(app.node_args, ['--max-semi-space-size=2'], 'no env file, no --env-file (node would refuse to start)')
    t.notOk(Object.keys(app.env).some((name) => /SECRET|PASSWORD|REDIS_URL/.test(name)), 'no secret in the PM2 env')
  }
})

t.test('when settings are given, then ports, instances and the kill timeout follow them', async (t) => {
  const apps = await load({ AUTH_PORT: '6000', DASHBOARD_PORT: '6003', LOYALTY_INSTANCES: '5', SHUTDOWN_TIMEOUT_MS: '3000', YOYO_ENV_FILE: ecosystemFile })
  t.equal(apps[0]!.env.HTTP_PORT, '6000')
  t.equal(apps[3]!.env.HTTP_PORT, '6003')
  t.equal(apps[2]!.instances, 5)
  t.equal(apps[2]!.kill_timeout, 5000)
  t.equal(apps[2]!.env.SHUTDOWN_TIMEOUT_MS, '3000')
  t.same(apps[0]!.node_args, ['--max-semi-space-size=2', `--env-file=${ecosystemFile}`], 'an existing env file is passed to node')
  const fallback = await load({ LOYALTY_INSTANCES: 'lots', AUTH_PORT: '-1' })
  t.equal(fallback[2]!.instances, 2)
  t.equal(fallback[0]!.env.HTTP_PORT, '5000')
})

const stub = `const http = require('node:http')
http.createServer((req, res) => {
  res.end(JSON.stringify({ pid: process.pid, port: process.env.HTTP_PORT, secret: process.env.JWT_SECRET ?? null, level: process.env.LOG_LEVEL ?? null }))
}).listen(Number(process.env.HTTP_PORT), '127.0.0.1', () => process.send?.('ready'))
process.on('SIGINT', () => process.exit(0))
`

t.test('when PM2 runs the ecosystem, then every process gets the env file\'s secrets and PM2\'s saved list has none', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-pm2-'))
  const pm2Home = join(dir, '.pm2')
  const pm2 = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [join(root, 'node_modules', 'pm2', 'bin', 'pm2'), ...args], { env: { PATH: process.env.PATH ?? '', HOME: dir, PM2_HOME: pm2Home, ...env }, cwd: dir })
  t.teardown(async () => {
    await pm2(['kill']).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  await copyFile(ecosystemFile, join(dir, 'ecosystem.config.cjs'))
  await copyFile(join(root, 'platform.json'), join(dir, 'platform.json'))
  for (const app of Object.values(platform.apps)) {
    await mkdir(join(dir, 'dist', app.source), { recursive: true })
    await writeFile(join(dir, 'dist', app.source, 'main.js'), stub)
  }
  const secret = `jwt-${Date.now()}-not-for-pm2`
  const envFile = join(dir, 'platform.env')
  // HTTP_PORT in the file must lose to PM2's per-app value: node never overrides a set variable.
  await writeFile(envFile, `JWT_SECRET=${secret}\nLOG_LEVEL=warn\nHTTP_PORT=1\n`, { mode: 0o600 })
  const ports = { auth: await freePort(), transactions: await freePort(), loyalty: await freePort(), dashboard: await freePort() }
  await pm2(['start', join(dir, 'ecosystem.config.cjs')], {
    YOYO_ENV_FILE: envFile,
    AUTH_PORT: String(ports.auth),
    TRANSACTIONS_PORT: String(ports.transactions),
    LOYALTY_PORT: String(ports.loyalty),
    DASHBOARD_PORT: String(ports.dashboard),
    LOYALTY_INSTANCES: '2',
  })
  const list = JSON.parse((await pm2(['jlist'])).stdout) as { name: string; pm2_env: { status: string; exec_mode: string } }[]
  t.same(list.map((p) => [p.name, p.pm2_env.exec_mode]).sort(), [
    ['auth', 'cluster_mode'], ['dashboard', 'fork_mode'], ['loyalty', 'cluster_mode'], ['loyalty', 'cluster_mode'], ['transactions', 'cluster_mode'],
  ])
  const pids = new Set<number>()
  for (const [name, port] of Object.entries(ports)) {
    for (let i = 0; i < (name === 'loyalty' ? 6 : 1); i++) {
      let body: { pid: number; port: string; secret: string | null; level: string | null } | undefined
      for (let attempt = 0; body === undefined; attempt++) {
        body = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } }).then((r) => r.json() as never, async (err: unknown) => {
          if (attempt > 50) throw err
          await sleep(100)
          return undefined
        })
      }
      t.equal(body.secret, secret, `${name} read JWT_SECRET from the env file`)
      t.equal(body.level, 'warn')
      t.equal(body.port, String(port), 'PM2\'s HTTP_PORT wins over the file')
      if (name === 'loyalty') pids.add(body.pid)
    }
  }
  t.ok(pids.size >= 1, `loyalty answered from ${pids.size} process(es)`)
  await pm2(['save', '--force'])
  const dump = await readFile(join(pm2Home, 'dump.pm2'), 'utf8')
  t.match(dump, /--env-file=/, 'the saved list has the env file\'s path...')
  t.notOk(dump.includes(secret), '...but not its secrets')
})
