// The container image, for real: built with podman from deploy/container/Containerfile (on a local
// stand-in for its base: no registry here, see test/helpers/container-image.ts), then the whole platform
// run as containers in a network namespace this test makes: Redis, the four services from the one image
// (two Loyalty Workers), and the router nginx rendered by nginx/render.ts. It checks what the image
// promises (size, non-root numeric user, read-only root, no package manager, HEALTHCHECK, tini as PID 1,
// graceful SIGTERM), the API flow through the router, and that killing Loyalty Worker containers with
// SIGKILL under load loses nothing: every acknowledged transaction awarded exactly once.
//
//   npm run test:container     (as root: podman, ip netns; installs nothing)
//
// The network: a namespace `yoyo-ct-<pid>` with loopback and one end of a veth pair, 10.213.<n>.2/24;
// the other end, 10.213.<n>.1/24, stays in this test's namespace so the test can talk to nginx and Redis.
// The namespace has no other route: the containers reach nothing but each other and the test. Every
// container joins it (podman --network ns:...), so they talk over its loopback, as the processes of a
// Kubernetes pod do. Removed afterwards, even on failure: containers, namespace, veth pair, temp dir and
// the image this run built (the stand-in base and the Redis/nginx testbed image are kept, as a cache).
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import t from 'tap'
import { renderRouterConfig } from '../../nginx/render.ts'
import { developmentUsers, seedUsers } from '../../services/auth-api/seed.ts'
import { keys } from '../../services/shared/keys.ts'
import { signToken } from '../../services/shared/tokens.ts'
import { type LoadTarget, loyaltySnapshot, settle, showOutcomes, showUsers, startLoad } from '../faults/load.ts'
import {
  baseImageName,
  buildImage,
  ensureStandInBase,
  ensureTestbed,
  firstWords,
  imageSize,
  isDeadRun,
  megabytes,
  must,
  podman,
  podmanGlobal,
  run,
  ulimits,
} from '../helpers/container-image.ts'
import { request } from '../helpers/http-client.ts'
import { logEntries, readQueueState } from '../helpers/platform-stack.ts'

/** The image may add at most this much to its base (the issue: within about 60 MB of Node 24 slim). */
const SIZE_BUDGET_BYTES = 60e6
const TRANSACTIONS = 1200
const PER_SECOND = 100
const USERS = [1, 2, 4, 5]
/** Everything acknowledged is processed within this after the last kill (the fault suite's bound). */
const RECOVERY_BOUND_MS = 45_000

const started = performance.now()
const id = process.pid
const image = `localhost/yoyo-platform:test-${id}`
const ns = `yoyo-ct-${id}`
const hostIf = `yct${id}h`
const nsIf = `yct${id}n`
const containers: string[] = []
let dir = ''
let imageBuilt = false

/** Synchronous, for an abrupt exit too (tap's timeout SIGTERM): only what this run made, by name. */
function removeEverything(): void {
  const quiet = { stdio: 'ignore' as const, timeout: 30_000 }
  for (const name of containers.splice(0).reverse()) {
    try {
      execFileSync('podman', [...podmanGlobal, 'rm', '--force', '--time', '0', name], quiet)
    } catch {
      // not there
    }
  }
  for (const [file, args] of [['ip', ['netns', 'delete', ns]], ['ip', ['link', 'delete', hostIf]]] as const) {
    try {
      execFileSync(file, [...args], quiet)
    } catch {
      // gone with the namespace, or never made
    }
  }
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
  if (imageBuilt) {
    try {
      execFileSync('podman', [...podmanGlobal, 'rmi', '--force', image], quiet)
    } catch {
      // not there
    }
    imageBuilt = false
  }
}
process.once('exit', removeEverything)
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    removeEverything()
    process.exit(1)
  })
}
t.teardown(removeEverything)

const seconds = (ms: number): string => (ms / 1000).toFixed(1)

if (process.getuid?.() !== 0 || (await run('podman', ['--version'])).code !== 0) {
  // Reported as skipped (TAP's 1..0 # SKIP), never as a pass.
  t.plan(0, 'skipped: needs root, podman and ip (apt-get install podman buildah debootstrap uidmap)')
  process.exit(0)
}

/**
 * What an earlier run left behind when it was killed outright (SIGKILL: no handler ran): its containers,
 * namespace, veth and image, found by the pid in their names, when no process has that pid any more.
 */
async function sweepDeadRuns(): Promise<void> {
  const dead = (name: string, pattern: RegExp): boolean => isDeadRun(name, pattern, id)
  const lines = firstWords
  for (const name of lines((await podman(['ps', '--all', '--format', '{{.Names}}'])).stdout)) {
    if (dead(name, /^yoyo-ct-(\d+)-/)) await podman(['rm', '--force', '--time', '0', name])
  }
  for (const name of lines((await run('ip', ['netns', 'list'])).stdout)) {
    if (dead(name, /^yoyo-ct-(\d+)$/)) await run('ip', ['netns', 'delete', name])
  }
  for (const name of lines((await run('ip', ['-o', 'link', 'show'])).stdout.replace(/^\d+: /gm, ''))) {
    const link = name.replace(/[:@].*$/, '')
    if (dead(link, /^yct(\d+)h$/)) await run('ip', ['link', 'delete', link])
  }
  for (const name of lines((await podman(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout)) {
    if (dead(name, /^localhost\/yoyo-platform:test-(\d+)$/)) await podman(['rmi', '--force', name])
  }
}
await sweepDeadRuns()

// --- Build: the stand-in base (cached), the image, the testbed for Redis and nginx (cached) ---------------
const log = (line: string): void => t.comment(line)
const base = await ensureStandInBase(log)
const build = await buildImage(image, log)
imageBuilt = true
const { name: testbed, ms: testbedMs } = await ensureTestbed(base.name)
const [imageBytes, baseBytes] = [await imageSize(image), await imageSize(base.name)]
t.comment(
  `figures container-build: image=${megabytes(imageBytes)} base=${megabytes(baseBytes)} added=${megabytes(imageBytes - baseBytes)} ` +
    `image_build_s=${seconds(build.ms)} base_build_s=${base.built ? seconds(base.ms) : 'cached'} testbed_s=${seconds(testbedMs)}`,
)

interface ImageConfig {
  User: string
  Env: string[]
  Entrypoint: string[]
  Cmd: string[] | null
  Labels: Record<string, string>
  StopSignal?: string
}

t.test('the image: within budget, a numeric non-root user, tini as entry, a HEALTHCHECK, labels, no package manager', async (t) => {
  t.ok(imageBytes - baseBytes <= SIZE_BUDGET_BYTES, `adds ${megabytes(imageBytes - baseBytes)} to its base (budget ${megabytes(SIZE_BUDGET_BYTES)})`)
  const config = JSON.parse(await must('podman', [...podmanGlobal, 'image', 'inspect', '--format', '{{json .Config}}', image])) as ImageConfig
  t.match(config.User, /^[1-9]\d*:[1-9]\d*$/, 'USER is a numeric non-root uid:gid (Kubernetes runAsNonRoot can check it)')
  t.same(config.Entrypoint.slice(0, 2), ['/usr/bin/tini', '--'], 'tini is PID 1')
  t.equal(config.StopSignal, 'SIGTERM')
  const healthcheck = JSON.parse(await must('podman', [...podmanGlobal, 'image', 'inspect', '--format', '{{json .Config.Healthcheck}}', image])) as { Test?: string[] } | null
  t.same(healthcheck?.Test, ['CMD', 'node', '/app/dist/services/healthcheck.js'], 'the HEALTHCHECK is kept (docker format)')
  t.ok(config.Env.includes('HTTP_HOST=0.0.0.0') && config.Env.includes('HTTP_PORT=8080'), 'listens on 0.0.0.0:8080 unless told otherwise')
  for (const label of ['title', 'description', 'version', 'revision', 'created', 'base.name']) {
    t.ok(config.Labels[`org.opencontainers.image.${label}`], `label org.opencontainers.image.${label}`)
  }
  t.equal(config.Labels['org.opencontainers.image.base.name'], baseImageName())

  const inside = (script: string) =>
    run('podman', [...podmanGlobal, 'run', '--rm', ...ulimits, '--network', 'none', '--read-only', '--read-only-tmpfs=false', '--entrypoint', '/bin/sh', image, '-c', script], { timeoutMs: 60_000 })
  const tools = await inside('for tool in npm npx corepack yarn yarnpkg apt apt-get dpkg gcc cc c++ make python3 git curl wget; do command -v $tool; done; ls /usr/local/lib/node_modules 2>/dev/null; true')
  t.equal(tools.stdout.trim(), '', `no package manager, compiler or downloader in the image: ${tools.stdout.trim() || 'none'}`)
  const owner = await inside('id -u; touch /app/x 2>&1; touch /tmp/x 2>&1; test -w /app/node_modules && echo writable')
  t.match(owner.stdout, /^10001\n/, 'runs as 10001')
  t.notMatch(owner.stdout, /writable/, 'the service cannot change its code')
  t.match(owner.stdout, /Read-only file system/, 'the root filesystem can be read-only')

  const noService = await run('podman', [...podmanGlobal, 'run', '--rm', ...ulimits, '--network', 'none', '--health-interval', 'disable', image], { timeoutMs: 60_000 })
  t.equal(noService.code, 64, 'without an app name: exit 64')
  t.match(noService.stderr, /name the app to run: one of auth, transactions, loyalty, dashboard/)
})

// --- The platform as containers ------------------------------------------------------------------------
t.test('the platform as containers in a network namespace: the API flow through the router; Loyalty Worker containers killed under load lose nothing', async (t) => {
  dir = await mkdtemp(join(tmpdir(), 'yoyo-containers-'))
  // A /24 of 10.213.0.0/16 no route of this machine uses yet.
  const routes = await must('ip', ['-4', 'route', 'show'])
  const free = Array.from({ length: 254 }, (_, i) => i + 1).filter((n) => !routes.includes(`10.213.${n}.`))
  const subnet = free[id % free.length]
  if (subnet === undefined) throw new Error('no free 10.213.x.0/24')
  const hostAddress = `10.213.${subnet}.1`
  const address = `10.213.${subnet}.2`
  const namespaceStarted = performance.now()
  await must('ip', ['netns', 'add', ns])
  await must('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf])
  await must('ip', ['link', 'set', nsIf, 'netns', ns])
  await must('ip', ['addr', 'add', `${hostAddress}/24`, 'dev', hostIf])
  await must('ip', ['link', 'set', hostIf, 'up'])
  await must('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${address}/24`, 'dev', nsIf])
  await must('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up'])
  await must('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'])

  const ports = { redis: 16379, router: 18080, auth: 18081, transactions: 18082, loyalty1: 18083, loyalty2: 18084, dashboard: 18085 }
  const redisPassword = randomBytes(16).toString('hex')
  const jwtSecret = randomBytes(48).toString('base64url')
  const dashboardPassword = randomBytes(16).toString('hex')
  // The services' settings, as a Kubernetes Secret/ConfigMap would give them: environment only.
  const envFile = join(dir, 'platform.env')
  await writeFile(
    envFile,
    [
      `REDIS_URL=redis://:${redisPassword}@127.0.0.1:${ports.redis}/0`,
      `JWT_SECRET=${jwtSecret}`,
      `QUEUE_DASHBOARD_PASSWORD=${dashboardPassword}`,
      'LOYALTY_CONCURRENCY=10',
      'SHUTDOWN_TIMEOUT_MS=8000',
      'LOG_LEVEL=info',
      '',
    ].join('\n'),
    { mode: 0o600 },
  )

  const network = ['--network', `ns:/run/netns/${ns}`]
  const start = async (name: string, args: string[]): Promise<string> => {
    const full = `yoyo-ct-${id}-${name}`
    containers.push(full)
    await must('podman', [...podmanGlobal, 'run', '--detach', '--name', full, ...ulimits, ...network, '--cap-drop', 'all', '--security-opt', 'no-new-privileges', '--read-only', '--read-only-tmpfs=false', ...args], { timeoutMs: 60_000 })
    return full
  }
  const service = (name: string, port: number, command: string) =>
    start(name, ['--hostname', name, '--env-file', envFile, '--env', `HTTP_PORT=${port}`, '--health-interval', 'disable', '--stop-timeout', '20', image, command])

  const redisContainer = await start('redis', [
    '--user', 'redis', '--tmpfs', '/data:rw,mode=1777,size=64m', testbed,
    'redis-server', '--port', String(ports.redis), '--bind', '0.0.0.0', '--requirepass', redisPassword, '--dir', '/data',
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory', '128mb', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning',
  ])
  const client = new Redis({ host: address, port: ports.redis, password: redisPassword, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  for (let attempt = 0; ; attempt++) {
    try {
      if (client.status === 'wait' || client.status === 'end') await client.connect()
      if ((await client.ping()) === 'PONG') break
    } catch (err) {
      if (attempt >= 100) throw new Error(`Redis did not answer: ${String(err)}\n${(await podman(['logs', redisContainer])).stderr}`)
      await sleep(100)
    }
  }
  await seedUsers(client, developmentUsers)

  const servicesStarted = performance.now()
  const auth = await service('auth', ports.auth, 'auth')
  const transactions = await service('transactions', ports.transactions, 'transactions')
  const loyalty1 = await service('loyalty-1', ports.loyalty1, 'loyalty')
  const loyalty2 = await service('loyalty-2', ports.loyalty2, 'loyalty')
  const dashboard = await service('dashboard', ports.dashboard, 'dashboard')

  // The router's config: readable by nginx's user in its container (the env file next to it is not).
  const routerDir = join(dir, 'router')
  await mkdir(routerDir, { mode: 0o755 })
  await writeFile(
    join(routerDir, 'site.conf'),
    renderRouterConfig({
      listen: ports.router,
      upstreams: { auth: `127.0.0.1:${ports.auth}`, transactions: `127.0.0.1:${ports.transactions}`, loyalty: `127.0.0.1:${ports.loyalty1}`, dashboard: `127.0.0.1:${ports.dashboard}` },
      accessLog: 'off',
    }),
  )
  await writeFile(
    join(routerDir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid /tmp/nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
    client_body_temp_path /tmp/client_body;
    proxy_temp_path /tmp/proxy;
    fastcgi_temp_path /tmp/fastcgi;
    uwsgi_temp_path /tmp/uwsgi;
    scgi_temp_path /tmp/scgi;
    include /etc/yoyo-router/site.conf;
}
`,
  )
  const router = await start('router', ['--user', 'www-data', '--tmpfs', '/tmp:rw,mode=1777,size=16m', '--volume', `${routerDir}:/etc/yoyo-router:ro`, testbed, 'nginx', '-e', 'stderr', '-c', '/etc/yoyo-router/nginx.conf'])
  const url = `http://${address}:${ports.router}`

  // Every service healthy through the router (bounded: 60 s).
  const deadline = Date.now() + 60_000
  let seen = ''
  for (;;) {
    const statuses = await Promise.all(
      ['/authentication/health', '/transactions/health', '/loyalty/health', '/queue/health'].map((path) => request(`${url}${path}`, { timeoutMs: 3000 }).then((r) => r.status, (err: Error) => err.message)),
    )
    seen = statuses.join(', ')
    if (statuses.every((status) => status === 200)) break
    if (Date.now() > deadline) {
      const logs = await Promise.all([auth, transactions, loyalty1, dashboard, router].map(async (name) => `${name}: ${(await podman(['logs', '--tail', '20', name])).stderr}`))
      throw new Error(`not healthy through the router within 60 s: ${seen}\n${logs.join('\n')}`)
    }
    await sleep(250)
  }
  const startupMs = performance.now() - servicesStarted
  t.pass(`all four services healthy through the router ${seconds(startupMs)} s after their containers were started`)
  for (const name of [auth, loyalty2]) {
    const check = await podman(['healthcheck', 'run', name])
    t.equal(check.code, 0, `the image's HEALTHCHECK passes in ${name}: ${check.stdout.trim()}${check.stderr.trim()}`)
  }
  const pid1 = (await must('podman', [...podmanGlobal, 'inspect', '--format', '{{.State.Pid}}', transactions])).trim()
  t.equal((await readFile(`/proc/${pid1}/comm`, 'utf8')).trim(), 'tini', 'PID 1 of a service container is tini')

  // The API flow, through the router: token → transaction → awarded → /loyalty/me.
  const login = await request(`${url}/authentication/token`, { method: 'POST', body: { username: 'alice', password: 'password' } })
  t.equal(login.status, 200, 'alice gets a token')
  const token = (login.json as { token: string }).token
  const before = (await request(`${url}/loyalty/me`, { headers: { authorization: `Bearer ${token}` } })).json as { stamps: number; transactions: number }
  const posted = await request(`${url}/transactions`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: { amount: 2000, currency: 'GBP' } })
  t.equal(posted.status, 202, `POST /transactions: 202 ${posted.text.slice(0, 200)}`)
  const transactionId = (posted.json as { id: string }).id
  let record: { status?: string; loyalty?: { stamps_awarded: number } } = {}
  for (let attempt = 0; attempt < 100 && record.status !== 'completed'; attempt++) {
    await sleep(100)
    record = (await request(`${url}/transactions/${transactionId}`, { headers: { authorization: `Bearer ${token}` } })).json as typeof record
  }
  t.equal(record.status, 'completed', 'the transaction is processed by a Loyalty Worker container')
  t.equal(record.loyalty?.stamps_awarded, 1, 'one stamp awarded')
  const me = await request(`${url}/loyalty/me`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(me.status, 200)
  t.equal((me.json as { transactions: number }).transactions, before.transactions + 1, '/loyalty/me counts it')
  const stats = await request(`${url}/queue/stats`, { headers: { accept: 'application/json', authorization: `Basic ${Buffer.from(`admin:${dashboardPassword}`).toString('base64')}` } })
  t.equal(stats.status, 200, 'the queue dashboard answers through the router')

  // Load through the router while Loyalty Worker containers are killed (SIGKILL) and started again, as
  // Kubernetes restarts a crashed container.
  const stampsPerVoucher = 10
  const target: LoadTarget = {
    url,
    stampsPerVoucher,
    redis: { client },
    token: (userId, options = {}) => signToken({ user_id: userId, username: `user-${userId}`, can_transact: options.canTransact ?? true }, jwtSecret, options.ttlSeconds ?? 30),
    queueState: () => readQueueState(client),
  }
  // alice (user 1) has the flow's stamp already: the settlement counts from here.
  const baseline = await loyaltySnapshot(target, USERS)
  const loadStarted = performance.now()
  const load = startLoad(target, { users: USERS, count: TRANSACTIONS, concurrency: 12, retry: true, perSecond: PER_SECOND })
  const kills: string[] = []
  // The jobs the victim had in hand (kue 'active', taken by it: kue writes the worker's id, kue:<hostname>:<pid>,
  // into the job as it takes it) when it was killed. At 100/s two workers are idle most of the time, so a
  // kill at a random moment usually finds nothing in hand: first both workers are frozen (podman pause,
  // the cgroup freezer) while transactions keep coming, then each is killed while the two drain that
  // backlog, as soon as it holds jobs.
  const inHandAtKill: number[] = []
  const at = async (ms: number): Promise<void> => {
    const wait = loadStarted + ms - performance.now()
    if (wait > 0) await sleep(wait)
  }
  const inHand = async (hostname: string): Promise<number> => {
    const members = await client.zrange(`${keys.queuePrefix}:jobs:transaction:active`, 0, -1)
    if (members.length === 0) return 0
    const pipeline = client.pipeline()
    for (const member of members) pipeline.hget(`${keys.queuePrefix}:job:${member.split('|')[1] ?? member}`, 'workerId')
    const owners = ((await pipeline.exec()) ?? []).map(([, owner]) => String(owner))
    return owners.filter((owner) => owner.startsWith(`kue:${hostname}:`)).length
  }
  let loading = true
  void load.done.then(() => (loading = false))
  /**
   * Freezes both workers for 1.5 s (a backlog builds), thaws them and kills `victim` the moment it holds
   * jobs; up to 3 rounds while the load runs, then kills it anyway (its count then says 0).
   */
  const kill = async (victim: string, hostname: string): Promise<void> => {
    // SIGKILL straight to the container's PID 1 (tini; the kernel then kills every process of the
    // container): `podman kill` takes a few hundred ms to start, long enough for the jobs seen in hand
    // to be finished by then.
    const pid = Number((await must('podman', [...podmanGlobal, 'inspect', '--format', '{{.State.Pid}}', victim])).trim())
    if (!(pid > 1)) throw new Error(`${victim} has no process`)
    let held = 0
    for (let round = 0; round < 3 && held === 0 && loading; round++) {
      await must('podman', [...podmanGlobal, 'pause', loyalty1, loyalty2])
      await sleep(1500)
      await must('podman', [...podmanGlobal, 'unpause', loyalty1, loyalty2])
      const until = performance.now() + 2000
      while (held === 0 && performance.now() < until) {
        held = await inHand(hostname)
        if (held === 0) await sleep(2)
      }
    }
    process.kill(pid, 'SIGKILL')
    inHandAtKill.push(held)
    kills.push(victim)
    await must('podman', [...podmanGlobal, 'wait', victim], { timeoutMs: 30_000 })
    // Restarted as Kubernetes restarts a crashed container (after a back-off; here half a second).
    await sleep(500)
    await must('podman', [...podmanGlobal, 'start', victim], { timeoutMs: 60_000 })
  }
  await at(1000)
  await kill(loyalty1, 'loyalty-1')
  await kill(loyalty2, 'loyalty-2')
  const ledger = await load.done
  const loadMs = performance.now() - loadStarted
  const loadEnded = performance.now()
  const settlement = await settle(target, ledger, { since: loadEnded, timeoutMs: RECOVERY_BOUND_MS + 30_000, baseline })
  const acked = [...ledger.acknowledged.values()].reduce((sum, ids) => sum + ids.size, 0)
  t.comment(
    `figures container-worker-kill: sent=${ledger.sent} acked=${acked} processed=${settlement.processed} lost=${settlement.lost} awarded_twice=${settlement.awardedTwice} ` +
      `kills=${kills.length} in_hand_at_kills=${inHandAtKill.join('/')} load_s=${seconds(loadMs)} settled_s=${seconds(settlement.ms)} outcomes=${showOutcomes(ledger)}`,
  )
  t.equal(ledger.unacknowledged, 0, 'every transaction acknowledged (the client retries with its Idempotency-Key)')
  t.equal(acked, TRANSACTIONS)
  t.ok(settlement.settled, `settled within ${seconds(RECOVERY_BOUND_MS + 30_000)} s: ${JSON.stringify(settlement.state)}`)
  t.equal(settlement.lost, 0, `nothing lost: ${showUsers(settlement)}`)
  t.equal(settlement.awardedTwice, 0, 'nothing awarded twice')
  t.ok(inHandAtKill.some((held) => held > 0), `a killed worker had jobs in hand (${inHandAtKill.join(', ')})`)
  t.equal(settlement.notCompleted, 0, 'every acknowledged transaction completed')
  t.ok(settlement.ms <= RECOVERY_BOUND_MS, `processed within ${seconds(RECOVERY_BOUND_MS)} s of the load's end (${seconds(settlement.ms)} s)`)

  // Resident memory of each service's node process (tini's child), after the load: for sizing pods.
  const rss = async (name: string): Promise<string> => {
    const pid = (await must('podman', [...podmanGlobal, 'inspect', '--format', '{{.State.Pid}}', name])).trim()
    const child = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim().split(' ')[0]
    const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${child}/status`, 'utf8').catch(() => ''))?.[1] ?? 0)
    return `${name.replace(`yoyo-ct-${id}-`, '')}=${Math.round(kb / 1024)}MB`
  }
  t.comment(`figures container-rss: ${(await Promise.all([auth, transactions, loyalty1, loyalty2, dashboard].map(rss))).join(' ')}`)

  // Graceful shutdown: SIGTERM reaches the service through tini; it finishes and exits 0.
  for (const name of [transactions, loyalty1]) {
    const stopStarted = performance.now()
    await must('podman', [...podmanGlobal, 'stop', '--time', '20', name], { timeoutMs: 60_000 })
    const stopMs = performance.now() - stopStarted
    const exitCode = (await must('podman', [...podmanGlobal, 'inspect', '--format', '{{.State.ExitCode}}', name])).trim()
    const entries = logEntries((await podman(['logs', name])).stdout)
    t.equal(exitCode, '0', `${name} exits 0 on SIGTERM`)
    t.ok(entries.some((e) => typeof e.msg === 'string' && e.msg.endsWith(' stopping') && e.signal === 'SIGTERM'), `${name} logged its SIGTERM`)
    t.ok(entries.some((e) => typeof e.msg === 'string' && e.msg.endsWith(' stopped')), `${name} logged a clean stop`)
    t.ok(stopMs < 15_000, `${name} stopped in ${seconds(stopMs)} s, before the runtime's SIGKILL`)
  }
  t.comment(`figures container-test: namespace_to_end_s=${seconds(performance.now() - namespaceStarted)} total_s=${seconds(performance.now() - started)}`)
  await rm(join(dir, 'platform.env'), { force: true })
})
