// yoyo-status's evaluation and text, with fake probes (the real ones run in test/platform/status.e2e.ts).
import t from 'tap'
import { parsePm2List } from '../../provision/lib/pm2-list.ts'
import { collectStatus, formatStatus, parseRedisInfo, pm2Checks, type Probes, redisDetail, type StatusOptions } from '../../provision/lib/status.ts'
import { renderStatusCommand } from '../../provision/render/status-command.ts'
import { statusUrls } from '../../provision/steps/status-command.ts'

const options: StatusOptions = {
  baseUrl: 'http://127.0.0.1:80',
  hostUrl: 'http://localhost:8080',
  envFile: '/etc/yoyo-platform/platform.env',
  pm2: '/usr/local/bin/pm2',
  apps: ['auth', 'transactions', 'loyalty', 'dashboard'],
  dashboardUser: 'admin',
}

const now = Date.now()
const proc = (name: string, status = 'online', mode = 'cluster_mode') => ({
  name, pid: 1, monit: { memory: 50 * 1024 * 1024, cpu: 0 }, pm2_env: { status, exec_mode: mode, restart_time: 1, pm_uptime: now - 3_600_000 },
})
const healthyList = [proc('auth'), proc('transactions'), proc('loyalty'), proc('loyalty'), proc('dashboard', 'online', 'fork_mode')]
const redisInfo = 'redis_version:7.0.15\r\nuptime_in_seconds:7200\r\nconnected_clients:12\r\nused_memory_human:2.5M\r\nmaxmemory:268435456\r\nmaxmemory_human:256.00M\r\nmaxmemory_policy:noeviction\r\naof_enabled:1\r\naof_last_write_status:ok\r\nrdb_last_bgsave_status:ok\r\n'

function probes(overrides: Partial<{ http: Record<string, { status: number; body: unknown } | Error>; pm2: string; redis: { code: number; stdout: string }; env: string | undefined }> = {}): Probes & { commands: string[][]; envs: Record<string, string>[] } {
  const http: Record<string, { status: number; body: unknown } | Error> = {
    '/authentication/health': { status: 200, body: { healthy: true } },
    '/transactions/health': { status: 200, body: { healthy: true } },
    '/loyalty/health': { status: 200, body: { healthy: true, queue: { waiting: 3, active: 1, delayed: 0, failed: 2, completed: 0 } } },
    '/queue/health': { status: 200, body: { healthy: true } },
    '/docs/openapi.json': { status: 200, body: { openapi: '3.1.0' } },
    ...overrides.http,
  }
  const commands: string[][] = []
  const envs: Record<string, string>[] = []
  return {
    commands,
    envs,
    async http(url) {
      const answer = http[new URL(url).pathname]
      if (answer === undefined || answer instanceof Error) throw answer ?? new Error('ECONNREFUSED')
      return { ...answer, ms: 3 }
    },
    async command(argv, env = {}) {
      commands.push(argv)
      envs.push(env)
      if (argv[0] === options.pm2) return { code: 0, stdout: overrides.pm2 ?? `a notice\n${JSON.stringify(healthyList)}\n`, stderr: '' }
      if (argv.includes('ping')) return { code: 0, stdout: 'NOAUTH Authentication required.\n', stderr: '' }
      return { ...(overrides.redis ?? { code: 0, stdout: redisInfo }), stderr: '' }
    },
    async readText() {
      return 'env' in overrides ? overrides.env : 'REDIS_PASSWORD=s3cret-password\nREDIS_URL=redis://:s3cret-password@127.0.0.1:6379/0\n'
    },
  }
}

t.test('when every part answers, then healthy, with each part\'s line, the queue counts and the URLs from the host', async (t) => {
  const fake = probes()
  const status = await collectStatus(options, fake)
  t.equal(status.healthy, true)
  t.same(status.problems, [])
  t.same(status.queue, { waiting: 3, active: 1, delayed: 0, failed: 2, completed: 0 })
  const text = formatStatus(status)
  t.match(text, /^yoyo-platform: healthy\n/)
  for (const name of ['auth', 'transactions', 'loyalty', 'dashboard', 'docs']) t.match(text, new RegExp(`ok {4}${name}\\s+GET /`))
  t.match(text, /ok {4}loyalty\s+2\/2 online, cluster, 100 MB, 2 restarts, up 60m/)
  t.match(text, /ok {4}dashboard\s+1\/1 online, fork, 50 MB, 1 restart, up 60m/)
  t.match(text, /ok {4}redis\s+127\.0\.0\.1:6379, up 2h, 2\.5M used of 256\.00M \(noeviction\), AOF on \(last write ok\), 12 clients/)
  t.match(text, 'waiting 3, active 1, delayed 0, failed 2, completed 0  (failed jobs: see the dashboard)')
  t.match(text, 'http://localhost:8080/docs/')
  t.match(text, 'http://localhost:8080/queue/  (user admin, password: sudo grep QUEUE_DASHBOARD_PASSWORD /etc/yoyo-platform/platform.env)')
  t.notMatch(text, 's3cret', 'no secret in the output')
  t.same(fake.envs.find((env) => 'REDISCLI_AUTH' in env), { REDISCLI_AUTH: 's3cret-password' }, 'the password goes to redis-cli in its environment, not its arguments')
  t.notOk(fake.commands.flat().some((arg) => arg.includes('s3cret')), 'never on a command line')
})

t.test('when a service is down, a PM2 app is missing or errored, or Redis does not answer, then UNHEALTHY naming each problem', async (t) => {
  const status = await collectStatus(options, probes({
    http: { '/queue/health': new Error('connect ECONNREFUSED'), '/transactions/health': { status: 503, body: { healthy: false, failing: ['redis'] } } },
    pm2: JSON.stringify([proc('auth'), proc('transactions'), proc('loyalty'), proc('loyalty', 'errored')]),
    redis: { code: 1, stdout: 'Could not connect to Redis at 127.0.0.1:6379: Connection refused' },
  }))
  t.equal(status.healthy, false)
  t.same(status.problems.map((problem) => problem.split(':')[0]), ['transactions', 'dashboard', 'loyalty', 'dashboard', 'redis'])
  const text = formatStatus(status)
  t.match(text, /^yoyo-platform: UNHEALTHY \(5 problems\)/)
  t.match(text, /FAIL {2}transactions\s+GET \/transactions\/health → 503 \(failing: redis\)/)
  t.match(text, /FAIL {2}dashboard\s+GET \/queue\/health: no answer \(connect ECONNREFUSED\)/)
  t.match(text, /FAIL {2}loyalty\s+1\/2 online \(errored: 1\)/)
  t.match(text, /FAIL {2}dashboard\s+not running under PM2/)
  t.match(text, /FAIL {2}redis\s+not answering on 127\.0\.0\.1:6379: Could not connect/)
})

t.test('when the env file cannot be read (not root), then Redis is checked without the password and the details need sudo', async (t) => {
  const status = await collectStatus(options, probes({ env: undefined }))
  t.equal(status.healthy, true, 'NOAUTH still proves Redis is up')
  t.match(formatStatus(status), /ok {4}redis\s+up on 127\.0\.0\.1:6379 \(memory and persistence: needs the password, run with sudo\)/)
})

t.test('when pm2 cannot list, then one PM2 problem; when the docs answer something else than OpenAPI, then docs fail', async (t) => {
  const status = await collectStatus(options, probes({ pm2: 'pm2: the yoyo-platform PM2 daemon is not running', http: { '/docs/openapi.json': { status: 200, body: { other: true } } } }))
  t.same(status.pm2.map((check) => [check.ok, check.name]), [[false, 'pm2']])
  t.ok(status.services.find((check) => check.name === 'docs')?.ok === false)
})

t.test('when pm2 jlist and INFO are parsed, then notices are skipped and AOF problems count', async (t) => {
  t.same(parsePm2List('[PM2] Spawning PM2 daemon\n[]\n'), [])
  t.equal(parsePm2List('no list'), undefined)
  t.equal(parseRedisInfo('# Server\r\nredis_version:7.0.15\r\n').redis_version, '7.0.15')
  t.equal(redisDetail({ ...parseRedisInfo(redisInfo), aof_last_write_status: 'err' }).ok, false)
  t.same(pm2Checks([proc('extra')], ['auth'], now).map((check) => [check.ok, check.name]), [[false, 'auth'], [true, 'extra']])
})

t.test('when the command is rendered, then it runs the app dir\'s status.ts with this machine\'s URLs (never --env-file)', async (t) => {
  const urls = statusUrls({ nginxPort: 80, hostPort: 8080 })
  t.same(urls, { baseUrl: 'http://127.0.0.1:80', hostUrl: 'http://localhost:8080' })
  t.same(statusUrls({ nginxPort: 80, hostPort: 80 }).hostUrl, 'http://localhost', 'no :80')
  const script = renderStatusCommand({ node: '/usr/local/bin/node', script: '/opt/yoyo-platform/provision/status.ts', ...urls, envFile: '/etc/yoyo-platform/platform.env', pm2: '/usr/local/bin/pm2' })
  t.match(script, /^#!\/bin\/sh\n/)
  t.match(script, 'exec /usr/local/bin/node --disable-warning=ExperimentalWarning /opt/yoyo-platform/provision/status.ts --url http://127.0.0.1:80 --host-url http://localhost:8080 --platform-env /etc/yoyo-platform/platform.env --pm2 /usr/local/bin/pm2 "$@"')
  t.match(script, 'unset NODE_OPTIONS')
  t.notMatch(script, /--env-file \//, 'Node.js would read an --env-file anywhere on its command line')
})

t.test('when the Transaction API refuses new transactions (queue full), then unhealthy, saying why, with the backlog and memory', async (t) => {
  const shedding = {
    healthy: true,
    accepting: false,
    shedding: 'Queue full: 63912 transactions are waiting to be processed (the most the platform queues is 63912); retry later',
    queue: { backlog: 63912, max_backlog: 63912 },
    redis_memory: { used: 150 * 1024 * 1024, max: 256 * 1024 * 1024, high_water: 0.9 * 256 * 1024 * 1024 },
  }
  const status = await collectStatus(options, probes({ http: { '/transactions/health': { status: 200, body: shedding } } }))
  t.equal(status.healthy, false)
  t.same(status.problems, [
    'transactions: GET /transactions/health → 200 in 3 ms; NOT accepting new transactions: Queue full: 63912 transactions are waiting to be processed (the most the platform queues is 63912); retry later (backlog 63,912 of 63,912, Redis 150.0 MB used, refuses above 230.4 MB)',
  ])
  t.match(formatStatus(status), /^yoyo-platform: UNHEALTHY \(1 problem\)\n/)
})

t.test('when the Transaction API accepts, then its line shows the backlog and the memory left', async (t) => {
  const accepting = { healthy: true, accepting: true, queue: { backlog: 12, max_backlog: 63912 }, redis_memory: { used: 7 * 1024 * 1024, max: 0, high_water: 0 } }
  const status = await collectStatus(options, probes({ http: { '/transactions/health': { status: 200, body: accepting } } }))
  t.equal(status.healthy, true)
  t.match(formatStatus(status), /ok {4}transactions\s+GET \/transactions\/health → 200 in 3 ms; accepting, backlog 12 of 63,912, Redis 7\.0 MB used, no limit/)
})
