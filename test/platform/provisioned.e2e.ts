// End-to-end test of a provisioned machine: `npm run test:platform`, as root, after
// `sudo ./provision/bootstrap.sh` (.ci/run runs both after `npm test`; `npm test` does not pick this file
// up: it is not a *.test.ts). It drives the platform as its users do, with the real clients:
//
//   - HTTPie and curl through nginx: token → transaction (202 queued) → the stamp at /loyalty/me → the
//     transaction completed with its loyalty; 401, 403 and nginx's JSON 404;
//   - exposure: Redis wants its password, the services listen on loopback only, the env file is 0600
//     yoyo and unreadable to login users, no secret of it reaches PM2's logs, dump or list;
//   - the login user (group yoyo, no sudo): `pm2 scale loyalty 5` (6 if it runs 5) → all online, 20 transactions
//     all processed; `pm2 save` works;
//   - the provisioner again: 0 changed and the scaled count kept (scaling is the user's, not drift),
//     `--check` exits 0 with "0 would change"; then the instance count is put back;
//   - `vagrant validate`.
//
// Settings: PLATFORM_URL (default http://127.0.0.1:80; unset, HTTPie uses the README's `:80` shorthand),
// PLATFORM_LOGIN_USER (default SUDO_USER when not root, else `platformtest`, created in group yoyo and
// removed afterwards when missing). The provisioner runs with SUDO_USER=<login user> and the rest of
// this environment (NODE_LINK_DIR, platform settings): run it as the machine was provisioned.
import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { $ } from 'zx/core'
import { outsideVantage, tcpListeners, userOf } from './exposure.ts'
import { linesFrom, namesFoundIn } from './file-search.ts'
import {
  asUser,
  curl,
  describeReply,
  httpie,
  httpieUrl,
  instancesOf,
  isLoopback,
  listenersOn,
  type Loyalty,
  loyaltyOf,
  parseRecap,
  platformUrl,
  pm2List,
  pm2ListAsRoot,
  provision,
  readEnvFile,
  repoRoot,
  session,
  showLoyalty,
  showProcesses,
  stampsEarned,
  tokenFor,
  waitFor,
  waitForInstances,
} from './clients.ts'

const ENV_FILE = '/etc/yoyo-platform/platform.env'
const PM2_HOME = '/var/lib/yoyo-platform/.pm2'
const APP_USER = 'yoyo'
// The issue's `pm2 scale loyalty 5`; 6 when loyalty already runs 5 (LOYALTY_INSTANCES=5), so scaling changes something.
const SCALE_TO = 5
const BATCH = 20

const sudoUser = process.env.SUDO_USER !== undefined && process.env.SUDO_USER !== '' && process.env.SUDO_USER !== 'root' ? process.env.SUDO_USER : undefined
const loginUser = process.env.PLATFORM_LOGIN_USER || sudoUser || 'platformtest'

const provisioned = process.getuid?.() === 0 && existsSync(ENV_FILE) && existsSync('/usr/local/bin/pm2')
if (!provisioned) {
  t.bailout(`run me as root on a provisioned machine (sudo ./provision/bootstrap.sh first): uid ${String(process.getuid?.())}, ` +
    `${ENV_FILE} ${existsSync(ENV_FILE) ? 'present' : 'missing'}, /usr/local/bin/pm2 ${existsSync('/usr/local/bin/pm2') ? 'present' : 'missing'}`)
}

const settings = provisioned ? await readEnvFile(ENV_FILE) : {}
const stampsPerVoucher = Number(settings.LOYALTY_STAMPS_PER_VOUCHER ?? 10)
const alice = session('alice')
// Decided before the first subtest (tap's root test ends when its queue runs dry between subtests), with
// root's pm2 (the wrapper runs it as yoyo): the login user may not exist yet.
const loyaltyNow = provisioned ? await pm2ListAsRoot().then((list) => instancesOf(list, 'loyalty').length, () => 0) : 0
const SCALED = loyaltyNow === SCALE_TO ? SCALE_TO + 1 : SCALE_TO

t.comment(`platform ${platformUrl}, login user ${loginUser}, ${stampsPerVoucher} stamps per voucher`)

// The loyalty instance count before the test scales it: put back at the end, however the test ends.
let loyaltyInstancesBefore: number | undefined
let scaledTo: number | undefined
// Set when this test made the login user (no provisioner run made one): removed at the end.
let createdLoginUser = false

async function scaleLoyalty(count: number): Promise<void> {
  const output = await asUser(loginUser, `pm2 scale loyalty ${count}`)
  if (output.exitCode !== 0) throw new Error(`pm2 scale loyalty ${count} as ${loginUser}: exit code ${String(output.exitCode)}: ${output.stderr.trim() || output.stdout.trim()}`)
  scaledTo = count
}

async function pm2Save(): Promise<void> {
  const output = await asUser(loginUser, 'pm2 save')
  if (output.exitCode !== 0) throw new Error(`pm2 save as ${loginUser}: exit code ${String(output.exitCode)}: ${output.stderr.trim() || output.stdout.trim()}`)
}

/** The processes of an app in PM2's saved list (dump.pm2), which resurrect and a reboot bring back. */
async function savedInstances(name: string): Promise<number> {
  const dump = JSON.parse(await readFile(`${PM2_HOME}/dump.pm2`, 'utf8')) as Array<{ name?: string }>
  return dump.filter((entry) => entry.name === name).length
}

t.teardown(async () => {
  // Only when a test stopped between scaling out and scaling back: leave the platform as we found it.
  if (loyaltyInstancesBefore !== undefined && scaledTo !== undefined && scaledTo !== loyaltyInstancesBefore) {
    await scaleLoyalty(loyaltyInstancesBefore).catch((error) => console.error(`# teardown: ${String(error)}`))
    await pm2Save().catch((error) => console.error(`# teardown: ${String(error)}`))
  }
  if (createdLoginUser) await $({ nothrow: true })`userdel --remove ${loginUser}`
})

await t.test(`when the login user ${loginUser} is needed, then they exist and are in group ${APP_USER}`, async (t) => {
  if ((await $({ nothrow: true })`id -u ${loginUser}`).exitCode !== 0) {
    // Not made by the provisioner's run (no SUDO_USER): a user in group yoyo, as the provisioner makes one.
    await $`useradd --create-home --groups ${APP_USER} --shell /bin/sh ${loginUser}`
    createdLoginUser = true
    t.comment(`created ${loginUser} (removed at the end)`)
  }
  const groups = (await $`id -nG ${loginUser}`).stdout.trim().split(/\s+/)
  t.ok(groups.includes(APP_USER), `${loginUser} is in group ${APP_USER} (groups: ${groups.join(' ')}); provision with SUDO_USER=${loginUser}`)
})

await t.test('when each service is asked for its health through nginx, then all three are healthy', async (t) => {
  for (const prefix of ['authentication', 'transactions', 'loyalty']) {
    const reply = await curl([`${platformUrl}/${prefix}/health`])
    t.equal(reply.status, 200, `GET /${prefix}/health → 200`, { reply: describeReply(reply) })
    t.match(reply.body, { healthy: true }, `/${prefix}/health says healthy`)
  }
})

let token = ''
let transactionId = ''

await t.test('when alice logs in through nginx with HTTPie, then she gets a token', async (t) => {
  // As the README shows it: http --form POST :80/authentication/token username=alice password=password
  const reply = await httpie(['--form', 'POST', httpieUrl('/authentication/token'), 'username=alice', 'password=password'])
  t.equal(reply.status, 200, 'POST /authentication/token → 200', { reply: describeReply(reply) })
  t.match(reply.headers['content-type'], /^application\/json/, 'JSON')
  const value = (reply.body as { token?: unknown } | undefined)?.token
  t.match(value, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT')
  token = typeof value === 'string' ? value : ''
})

await t.test('when alice posts a transaction with HTTPie, then it is queued and her stamps at /loyalty/me grow by one', async (t) => {
  if (token === '') token = await tokenFor('alice')
  const start = await loyaltyOf(token)
  // http --form POST :80/transactions token=$TOKEN amount=2000 currency=GBP
  const reply = await httpie(['--form', 'POST', httpieUrl('/transactions'), `token=${token}`, 'amount=2000', 'currency=GBP'])
  t.equal(reply.status, 202, 'POST /transactions → 202', { reply: describeReply(reply) })
  t.match(reply.body, { id: String, user_id: 1, amount: 2000, currency: 'GBP', status: 'queued' }, 'queued')
  transactionId = String((reply.body as { id?: unknown } | undefined)?.id ?? '')
  t.equal(reply.headers.location, `/transactions/${transactionId}`, 'Location names the transaction')

  const after = await waitFor('alice\'s stamp for the transaction', 15_000, async () => {
    // http :80/loyalty/me "Authorization:Bearer $TOKEN"
    const me = await httpie([httpieUrl('/loyalty/me'), `Authorization:Bearer ${token}`])
    const account = me.body as Loyalty | undefined
    if (me.status !== 200 || typeof account?.transactions !== 'number') return { done: false, seen: describeReply(me) }
    return account.transactions > start.transactions ? { done: true, value: account } : { done: false, seen: showLoyalty(account) }
  })
  t.equal(after.transactions, start.transactions + 1, 'one more transaction counted')
  t.equal(stampsEarned(after, stampsPerVoucher), stampsEarned(start, stampsPerVoucher) + 1,
    `one more stamp earned (${showLoyalty(start)} → ${showLoyalty(after)})`)
})

await t.test('when alice reads her transaction with curl, then it is completed with its loyalty', async (t) => {
  t.not(transactionId, '', 'a transaction was created')
  const reply = await curl(['-H', `Authorization: Bearer ${await alice()}`, `${platformUrl}/transactions/${transactionId}`])
  t.equal(reply.status, 200, `GET /transactions/${transactionId} → 200`, { reply: describeReply(reply) })
  t.match(reply.body, { id: transactionId, user_id: 1, amount: 2000, currency: 'GBP', status: 'completed', loyalty: { stamps_awarded: 1, stamps_after: Number } },
    'completed, with the stamp it earned', { reply: describeReply(reply) })
})

await t.test('when alice posts a transaction as JSON with a Bearer header and an Idempotency-Key (curl), then it is queued once', async (t) => {
  const bearer = await alice()
  const key = randomUUID()
  const post = () => curl(['-H', 'content-type: application/json', '-H', `Authorization: Bearer ${bearer}`, '-H', `Idempotency-Key: ${key}`,
    '--data', JSON.stringify({ amount: 150, currency: 'EUR' }), `${platformUrl}/transactions`])
  const first = await post()
  t.equal(first.status, 202, 'POST /transactions (JSON, Bearer) → 202', { reply: describeReply(first) })
  t.match(first.body, { id: String, amount: 150, currency: 'EUR', status: 'queued' }, 'queued')
  const replay = await post()
  t.equal(replay.status, 202, 'the same request again → 202', { reply: describeReply(replay) })
  t.equal((replay.body as { id?: unknown }).id, (first.body as { id?: unknown }).id, 'the replay names the same transaction')
  t.equal(replay.headers['idempotent-replayed'], 'true', 'Idempotent-Replayed: true')
})

await t.test('when charlie, who cannot transact, posts a transaction, then 403', async (t) => {
  const reply = await curl(['-H', 'content-type: application/json', '-H', `Authorization: Bearer ${await tokenFor('charlie')}`,
    '--data', JSON.stringify({ amount: 2000, currency: 'GBP' }), `${platformUrl}/transactions`])
  t.equal(reply.status, 403, 'POST /transactions as charlie → 403', { reply: describeReply(reply) })
  t.match(reply.body, { error: String }, 'a JSON error')
})

await t.test('when alice logs in with a wrong password, then 401 and no token', async (t) => {
  const reply = await httpie(['--form', 'POST', httpieUrl('/authentication/token'), 'username=alice', 'password=wrong-password'])
  t.equal(reply.status, 401, 'POST /authentication/token with a wrong password → 401', { reply: describeReply(reply) })
  t.match(reply.body, { error: String }, 'a JSON error')
  t.notMatch(reply.body, { token: String }, 'no token')
})

await t.test('when /loyalty/me is asked without a token, then 401', async (t) => {
  const reply = await curl([`${platformUrl}/loyalty/me`])
  t.equal(reply.status, 401, 'GET /loyalty/me without a token → 401', { reply: describeReply(reply) })
  t.match(reply.body, { error: String }, 'a JSON error')
})

await t.test('when a client asks nginx for an unknown path, then a JSON 404', async (t) => {
  const reply = await curl([`${platformUrl}/no-such-service/${randomUUID()}`])
  t.equal(reply.status, 404, 'GET /no-such-service/… → 404', { reply: describeReply(reply) })
  t.match(reply.headers['content-type'], /^application\/json/, 'JSON')
  t.match(reply.body, { error: String }, 'a JSON error')
})

await t.test('when Redis is asked without its password, then it refuses (NOAUTH)', async (t) => {
  const url = new URL(settings.REDIS_URL ?? 'redis://127.0.0.1:6379')
  const output = await $({ nothrow: true, timeout: '10s' })`redis-cli -h ${url.hostname} -p ${url.port || '6379'} ping`
  t.match(output.stdout + output.stderr, /NOAUTH/, `redis-cli ping without a password: ${(output.stdout + output.stderr).trim()}`)
})

await t.test('when the listening sockets are listed, then Redis and the services are on loopback only', async (t) => {
  const apps = await pm2List(loginUser)
  const ports: Record<string, number> = { redis: Number(new URL(settings.REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379) }
  for (const name of ['auth', 'transactions', 'loyalty']) {
    // The port each app runs with, as PM2 started it (ecosystem.config.cjs sets HTTP_PORT).
    ports[name] = Number(instancesOf(apps, name)[0]?.pm2_env?.env?.HTTP_PORT)
  }
  for (const [name, port] of Object.entries(ports)) {
    t.ok(Number.isInteger(port) && port > 0, `${name} has a port (${port})`)
    const addresses = await listenersOn(port)
    t.ok(addresses.length > 0, `${name} listens on ${port}`)
    t.same(addresses.filter((address) => !isLoopback(address)), [], `${name} (:${port}) listens on loopback only (it listens on ${addresses.join(', ')})`)
  }
})

await t.test('when the machine is reached from outside loopback, then only nginx\'s port answers', async (t) => {
  const nginxPort = Number(new URL(platformUrl).port || 80)
  const redisPort = Number(new URL(settings.REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379)
  // The platform's ports: Redis, each app's HTTP_PORT, and any other socket that Redis or the app user
  // listens on (in cluster mode the PM2 daemon, as yoyo, holds the services' sockets).
  const ports = new Map<number, string>([[redisPort, 'redis']])
  for (const app of await pm2List(loginUser)) {
    const port = Number(app.pm2_env?.env?.HTTP_PORT)
    if (port > 0) ports.set(port, app.name)
  }
  for (const listener of await tcpListeners()) {
    for (const pid of listener.pids) {
      const user = await userOf(pid)
      if ((user === APP_USER || user === 'redis') && !ports.has(listener.port)) ports.set(listener.port, `a socket of ${user} (pid ${pid})`)
    }
  }
  ports.delete(nginxPort)
  const vantage = await outsideVantage()
  t.teardown(() => vantage.close())
  t.comment(`reaching the machine from ${vantage.description}`)
  t.ok(await vantage.accepts(nginxPort), `nginx (:${nginxPort}) answers on ${vantage.target}`)
  t.equal(await vantage.httpStatus(nginxPort, '/loyalty/health'), 200, `and serves the platform there (GET /loyalty/health)`)
  t.ok(ports.size >= 4, `the platform's other ports: ${[...ports].map(([port, name]) => `${name} :${port}`).join(', ')}`)
  for (const [port, name] of ports) t.notOk(await vantage.accepts(port), `${name} (:${port}) does not answer on ${vantage.target}`)
})

await t.test(`when the platform's processes are listed, then PM2 and every service run as ${APP_USER}, an unprivileged user, and Redis not as root`, async (t) => {
  const account = (await $`getent passwd ${APP_USER}`).stdout.trim().split(':')
  t.not(account[2], '0', `${APP_USER} is not uid 0 (uid ${account[2]})`)
  t.match(account[6], /nologin|false$/, `${APP_USER} has no login shell (${account[6]})`)
  const groups = (await $`id -nG ${APP_USER}`).stdout.trim().split(/\s+/)
  t.same(groups.filter((group) => ['root', 'sudo', 'wheel', 'adm', 'docker', 'lxd'].includes(group)), [], `${APP_USER} is in no privileged group (${groups.join(' ')})`)
  const daemon = Number((await readFile(`${PM2_HOME}/pm2.pid`, 'utf8')).trim())
  t.equal(await userOf(daemon), APP_USER, `the PM2 daemon (pid ${daemon}) runs as ${APP_USER} (ps -o user)`)
  const apps = await pm2List(loginUser)
  t.ok(apps.length >= 3, `${apps.length} PM2 processes`)
  for (const app of apps) t.equal(await userOf(app.pid), APP_USER, `${app.name} (pid ${app.pid}) runs as ${APP_USER}`)
  const redisPort = Number(new URL(settings.REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379)
  const redisPid = (await tcpListeners()).find((listener) => listener.port === redisPort && listener.pids.length > 0)?.pids[0]
  t.ok(redisPid !== undefined, `Redis listens on ${redisPort}`)
  const redisUser = redisPid === undefined ? undefined : await userOf(redisPid)
  t.ok(redisUser !== undefined && redisUser !== 'root', `Redis (pid ${redisPid}) runs as ${redisUser}, not root`)
})

await t.test(`when the env file is inspected, then it is 0600 ${APP_USER} and the login user cannot read it`, async (t) => {
  const info = await stat(ENV_FILE)
  t.equal((info.mode & 0o777).toString(8), '600', `${ENV_FILE} mode`)
  t.equal(info.uid, Number((await $`id -u ${APP_USER}`).stdout.trim()), `${ENV_FILE} owned by ${APP_USER}`)
  const read = await asUser(loginUser, `cat ${ENV_FILE}`)
  t.not(read.exitCode, 0, `${loginUser} cannot read ${ENV_FILE}`)
})

await t.test(`when the login user runs pm2 scale loyalty ${SCALED} without sudo, then ${SCALED} loyalty instances are online`, async (t) => {
  const list = await pm2List(loginUser)
  loyaltyInstancesBefore = instancesOf(list, 'loyalty').length
  t.ok(loyaltyInstancesBefore > 0, `loyalty runs before scaling (${showProcesses(list)})`)
  await scaleLoyalty(SCALED)
  const instances = await waitForInstances(loginUser, 'loyalty', SCALED)
  t.equal(new Set(instances.map((p) => p.pid)).size, SCALED, `${SCALED} distinct processes`)
  t.ok(instances.every((p) => p.pm2_env?.exec_mode === 'cluster_mode'), 'in cluster mode')
  await pm2Save()
  t.equal(await savedInstances('loyalty'), SCALED, `pm2 save as ${loginUser} keeps ${SCALED} instances in dump.pm2`)
})

await t.test(`when ${BATCH} transactions are posted with ${SCALED} loyalty instances, then all are processed`, async (t) => {
  const start = await loyaltyOf(await alice())
  const workerLog = `${PM2_HOME}/logs/loyalty-out.log`
  const workerLogSize = (await stat(workerLog)).size
  const bearer = await alice()
  const replies = await Promise.all(Array.from({ length: BATCH }, (_, i) => curl(['-H', 'content-type: application/json', '-H', `Authorization: Bearer ${bearer}`,
    '--data', JSON.stringify({ amount: 100 + i, currency: 'GBP' }), `${platformUrl}/transactions`])))
  const accepted = replies.filter((reply) => reply.status === 202)
  t.equal(accepted.length, BATCH, `all ${BATCH} accepted (202)`, { refused: replies.filter((reply) => reply.status !== 202).map(describeReply) })
  const ids = accepted.map((reply) => String((reply.body as { id?: unknown }).id))

  const after = await waitFor(`${BATCH} transactions stamped`, 30_000, async () => {
    const account = await loyaltyOf(await alice())
    return account.transactions >= start.transactions + BATCH ? { done: true, value: account } : { done: false, seen: showLoyalty(account) }
  })
  t.equal(after.transactions, start.transactions + BATCH, `${BATCH} more transactions counted`)
  t.equal(stampsEarned(after, stampsPerVoucher), stampsEarned(start, stampsPerVoucher) + BATCH,
    `${BATCH} more stamps earned, held or exchanged (${showLoyalty(start)} → ${showLoyalty(after)})`)

  const statuses = await Promise.all(ids.map(async (id) => {
    const reply = await curl(['-H', `Authorization: Bearer ${bearer}`, `${platformUrl}/transactions/${id}`])
    return (reply.body as { status?: unknown } | undefined)?.status
  }))
  t.same(statuses.filter((status) => status !== 'completed'), [], `every transaction completed`)

  // Which worker processes did the work (the log's "transaction awarded" lines carry their pid).
  const wanted = new Set(ids)
  const byPid = new Map<number, number>()
  for await (const line of linesFrom(workerLog, workerLogSize)) {
    if (!line.includes('transaction awarded')) continue
    try {
      const entry = JSON.parse(line) as { pid?: number, transaction_id?: string }
      if (entry.transaction_id !== undefined && wanted.has(entry.transaction_id) && entry.pid !== undefined) byPid.set(entry.pid, (byPid.get(entry.pid) ?? 0) + 1)
    } catch {
      // not a JSON line
    }
  }
  t.comment(`awarded by pid: ${[...byPid].map(([pid, count]) => `${pid}×${count}`).join(', ') || 'not found in the log'}`)
})

await t.test('when the provisioner runs again, then it changes nothing and keeps the scaled instance count', async (t) => {
  const output = await provision([], loginUser)
  const shown = { output: `${output.stdout}${output.stderr}` }
  t.equal(output.exitCode, 0, 'sh provision/bootstrap.sh exits 0', shown)
  const recap = parseRecap(output.stdout)
  t.equal(recap.failed, 0, `no step failed (${recap.line})`, shown)
  t.equal(recap.changed, 0, `no step changed anything (${recap.line})`, shown)
  // Scaling is the login user's to decide: re-provisioning neither reports it as drift nor undoes it.
  const instances = instancesOf(await pm2List(loginUser), 'loyalty')
  t.equal(instances.length, SCALED, `still ${SCALED} loyalty instances after re-provisioning`)
  t.ok(instances.every((p) => p.pm2_env?.status === 'online'), 'all online')
})

await t.test('when the provisioner runs with --check, then it exits 0 and reports 0 would change', async (t) => {
  const output = await provision(['--check'], loginUser)
  const shown = { output: `${output.stdout}${output.stderr}` }
  t.equal(output.exitCode, 0, 'sh provision/bootstrap.sh --check exits 0 (2: drift)', shown)
  const recap = parseRecap(output.stdout)
  t.match(recap.line, /\b0 would change\b/, `"0 would change" (${recap.line})`, shown)
  t.equal(recap.failed, 0, 'no step failed', shown)
})

await t.test('when the nginx site is edited by hand and a setting changes, then --check --diff and --json show exactly that, and no secret', async (t) => {
  const site = '/etc/nginx/sites-available/yoyo-platform.conf'
  const original = await readFile(site, 'utf8')
  t.teardown(() => writeFile(site, original))
  await writeFile(site, `${original}# edited by hand\n`)

  const human = await provision(['--check', '--diff', '--only', 'ensureNginxConfigured'], loginUser)
  const shown = { output: `${human.stdout}${human.stderr}` }
  t.equal(human.exitCode, 2, '--check exits 2: drift', shown)
  t.match(human.stdout, /would write \/etc\/nginx\/sites-available\/yoyo-platform\.conf\n +--- \/etc\/nginx\/sites-available\/yoyo-platform\.conf\n +\+\+\+ \/etc\/nginx\/sites-available\/yoyo-platform\.conf\n +@@ [^\n]+ @@\n(?: +[^\n]*\n)* +-# edited by hand\n/, 'the diff takes the hand edit out', shown)

  const json = await provision(['--check', '--json', '--only', 'ensureEnvironmentFile,ensureNginxConfigured'], loginUser, { TOKEN_TTL_SECONDS: '45' })
  t.equal(json.exitCode, 2, { stderr: json.stderr })
  const report = JSON.parse(json.stdout) as { version: number; check: boolean; exitCode: number; steps: { name: string; status: string; changes: { change: string; diff?: string }[] }[] }
  t.match(report, { version: 1, check: true, exitCode: 2 }, 'stdout is the JSON document alone')
  const [envStep, nginxStep] = report.steps
  t.match(envStep, { name: 'ensureEnvironmentFile', status: 'changed', changes: [{ change: `write ${ENV_FILE}`, diff: /^-# TOKEN_TTL_SECONDS=.*\n\+TOKEN_TTL_SECONDS=45$/m }] })
  t.match(nginxStep, { name: 'ensureNginxConfigured', status: 'changed', changes: [{ diff: /^-# edited by hand$/m }] })
  t.equal(report.steps.flatMap((s) => s.changes).length, 2, 'exactly those two changes')
  for (const [name, value] of Object.entries(settings).filter(([n, v]) => /SECRET|PASSWORD|_URL$/.test(n) && v.length >= 8)) {
    t.notOk(json.stdout.includes(value), `${name} is not in the report`)
  }
})

await t.test('when a plan is made, then --apply refuses it once the machine moved, naming the step, and does it when the machine is as planned', async (t) => {
  const site = '/etc/nginx/sites-available/yoyo-platform.conf'
  const original = await readFile(site, 'utf8')
  t.teardown(() => writeFile(site, original))
  const planFile = `/tmp/yoyo-plan-${process.pid}.json`
  t.teardown(() => rm(planFile, { force: true }))
  await writeFile(site, `${original}# edited by hand\n`)
  // With the step that reloads nginx: the apply leaves nothing owed.
  const plan = await provision(['--plan', planFile, '--only', 'ensureNginxConfigured,ensureNginxRunning'], loginUser)
  t.equal(plan.exitCode, 2, 'the plan finds the drift', { output: plan.stdout })
  t.match(plan.stdout, /plan written to \/tmp\/yoyo-plan-/)

  await writeFile(site, `${original}# edited by hand\n# and again\n`)
  const stale = await provision(['--apply', planFile], loginUser)
  t.equal(stale.exitCode, 3, 'a stale plan: exit 3', { stderr: stale.stderr })
  t.match(stale.stderr, /is stale[\s\S]*ensureNginxConfigured: the same changes, but "write \/etc\/nginx\/sites-available\/yoyo-platform\.conf" would now write something else/)
  t.equal(await readFile(site, 'utf8'), `${original}# edited by hand\n# and again\n`, 'nothing was changed')

  await writeFile(site, `${original}# edited by hand\n`)
  const applied = await provision(['--apply', planFile], loginUser)
  t.equal(applied.exitCode, 0, 'the plan applies', { output: `${applied.stdout}${applied.stderr}` })
  t.match(applied.stdout, /changed +ensureNginxConfigured/)
  t.equal(await readFile(site, 'utf8'), original, 'and did what it planned')
})

await t.test('when the login user stops an app, then --check --json shows exactly that start, and a run starts that app alone', async (t) => {
  const stop = await asUser(loginUser, 'pm2 stop dashboard')
  t.equal(stop.exitCode, 0, 'pm2 stop dashboard')
  t.teardown(() => asUser(loginUser, 'pm2 start dashboard').then(() => undefined))
  const check = await provision(['--check', '--json', '--only', 'ensurePm2Running'], loginUser)
  const report = JSON.parse(check.stdout) as { exitCode: number; steps: { name: string; changes: { change: string }[] }[] }
  t.equal(report.exitCode, 2)
  t.same(report.steps[0]?.changes.map((c) => c.change), ['pm2 startOrReload ecosystem.config.cjs --update-env --only dashboard (not online: dashboard)'])
  const pidsBefore = new Map((await pm2List(loginUser)).filter((p) => p.name !== 'dashboard').map((p) => [p.pm_id, p.pid]))
  const run = await provision(['--only', 'ensurePm2Running'], loginUser)
  t.equal(run.exitCode, 0, { output: run.stdout })
  const after = await pm2List(loginUser)
  t.ok(after.filter((p) => p.name === 'dashboard').every((p) => p.pm2_env?.status === 'online'), 'the dashboard is online again')
  t.same(new Map(after.filter((p) => p.name !== 'dashboard').map((p) => [p.pm_id, p.pid])), pidsBefore, 'no other app was restarted')
})

await t.test('when LOYALTY_INSTANCES changes, then --check --json shows the scale from the applied count to the new one (a pm2 scale by hand is the user\'s: no drift)', async (t) => {
  const check = await provision(['--check', '--json', '--only', 'ensurePm2Running'], loginUser, { LOYALTY_INSTANCES: '3' })
  const report = JSON.parse(check.stdout) as { exitCode: number; steps: { changes: { change: string }[] }[] }
  t.equal(report.exitCode, 2)
  t.match(report.steps[0]?.changes.map((c) => c.change), [/^pm2 scale loyalty 3 \(LOYALTY_INSTANCES \d+ → 3; \d+ running\)$/])
  t.equal(report.steps[0]?.changes.length, 1, 'and nothing else')
})

await t.test('when nginx has logged requests, then its access log is readable by adm only (0640, www-data:adm)', async (t) => {
  const log = await stat('/var/log/nginx/yoyo-platform.access.log')
  t.equal(log.mode & 0o777, 0o640)
})

await t.test('when the login user scales loyalty back and saves, then the previous count is online and saved', async (t) => {
  t.ok(loyaltyInstancesBefore !== undefined, 'the count before scaling is known')
  if (loyaltyInstancesBefore === undefined) return
  await scaleLoyalty(loyaltyInstancesBefore)
  await waitForInstances(loginUser, 'loyalty', loyaltyInstancesBefore)
  await pm2Save()
  t.equal(await savedInstances('loyalty'), loyaltyInstancesBefore, `dump.pm2 back to ${loyaltyInstancesBefore} loyalty instances`)
  const token = await tokenFor('bob')
  const start = await loyaltyOf(token)
  const reply = await curl(['-H', 'content-type: application/json', '-H', `Authorization: Bearer ${token}`, '--data', '{"amount":500,"currency":"USD"}', `${platformUrl}/transactions`])
  t.equal(reply.status, 202, 'POST /transactions as bob → 202', { reply: describeReply(reply) })
  const after = await waitFor('bob\'s transaction stamped after scaling back', 15_000, async () => {
    const account = await loyaltyOf(token)
    return account.transactions > start.transactions ? { done: true, value: account } : { done: false, seen: showLoyalty(account) }
  })
  t.equal(after.transactions, start.transactions + 1, `still processing (${showLoyalty(start)} → ${showLoyalty(after)})`)
  const check = await provision(['--check'], loginUser)
  t.equal(check.exitCode, 0, 'and --check still exits 0', { output: `${check.stdout}${check.stderr}` })
})

await t.test('when PM2\'s logs, saved list and process list are searched, then no secret of the env file is in them', async (t) => {
  const secrets = Object.entries(settings).filter(([name, value]) => /SECRET|PASSWORD|_URL$/.test(name) && value.length >= 8)
  t.ok(secrets.length >= 2, `secrets to look for: ${secrets.map(([name]) => name).join(', ')}`)
  const files = (await readdir(`${PM2_HOME}/logs`)).map((file) => `logs/${file}`)
  for (const file of ['dump.pm2', 'dump.pm2.bak', 'pm2.log']) if (existsSync(`${PM2_HOME}/${file}`)) files.push(file)
  const leaks: string[] = []
  for (const file of files) leaks.push(...(await namesFoundIn(`${PM2_HOME}/${file}`, secrets)).map((name) => `${name} in ${file}`))
  const jlist = await asUser(loginUser, 'pm2 jlist')
  leaks.push(...secrets.filter(([, value]) => jlist.stdout.includes(value)).map(([name]) => `${name} in pm2 jlist as ${loginUser}`))
  t.same(leaks, [], `no secret in ${[...files, `pm2 jlist as ${loginUser}`].join(', ')}`)
})

await t.test('when a login and transactions carry a one-off password and token, then neither (nor any secret) is in the logs of PM2, nginx or Redis', async (t) => {
  const password = `probe-password-${randomUUID()}`
  const refused = await curl(['-H', 'content-type: application/json', '--data', JSON.stringify({ username: 'alice', password }), `${platformUrl}/authentication/token`])
  t.equal(refused.status, 401, 'a login with the probe password → 401', { reply: describeReply(refused) })
  const token = await tokenFor('alice')
  const bearer = await curl(['-H', 'content-type: application/json', '-H', `Authorization: Bearer ${token}`, '--data', '{"amount":101,"currency":"GBP"}', `${platformUrl}/transactions`])
  t.equal(bearer.status, 202, 'a transaction with the token in the header → 202', { reply: describeReply(bearer) })
  const form = await curl(['--data-urlencode', `token=${token}`, '--data', 'amount=102&currency=GBP', `${platformUrl}/transactions`])
  t.equal(form.status, 202, 'a transaction with the token in a form → 202', { reply: describeReply(form) })
  await sleep(1000) // PM2 and nginx write their logs asynchronously
  const files = [
    ...(await readdir(`${PM2_HOME}/logs`)).map((file) => `${PM2_HOME}/logs/${file}`),
    ...(await readdir('/var/log/nginx').catch(() => [] as string[])).map((file) => `/var/log/nginx/${file}`),
    ...(await readdir('/var/log/redis').catch(() => [] as string[])).map((file) => `/var/log/redis/${file}`),
  ].filter((file) => !file.endsWith('.gz'))
  const needles: Array<[string, string]> = [
    ['the probe password', password],
    ['the token', token],
    ...Object.entries(settings).filter(([name, value]) => /SECRET|PASSWORD|_URL$/.test(name) && value.length >= 8),
  ]
  const leaks: string[] = []
  for (const file of files) leaks.push(...(await namesFoundIn(file, needles)).map((name) => `${name} in ${file}`))
  t.same(leaks, [], `nothing of ${needles.map(([name]) => name).join(', ')} in ${files.length} log files`)
})

// A deploy of a broken Auth API, from a copy of the checkout (the checkout itself is not this test's to
// change): the provisioner must put the running release back, healthy, and exit 1; the apps it did not
// change keep answering throughout.
const brokenReleases: [string, string, (text: string) => string][] = [
  ['crashes on start', 'services/auth-api/main.ts', (text) => `throw new Error('broken on purpose')\n${text}`],
  [
    'answers 500 on health',
    'services/auth-api/app.ts',
    (text) => text.replace("app.get('/health', healthRoute({ redis: redisCheck(redis) }))", "app.get('/health', (_req, res) => void res.status(500).json({ error: 'broken on purpose' }))"),
  ],
]
for (const [what, file, breakIt] of brokenReleases) {
  await t.test(`when a deploy brings an Auth API that ${what}, then the previous release is put back, healthy, the provisioner exits 1, and the other apps never fail a request`, async (t) => {
    const copy = await mkdtemp('/tmp/yoyo-release-')
    t.teardown(() => rm(copy, { recursive: true, force: true }))
    // The checkout without what the provisioner never copies (the provisioner's own packages are kept: no npm ci needed).
    const skip = new Set(['.git', '.tap', 'coverage', 'dist', 'node_modules'])
    const wanted = (source: string): boolean => {
      const parts = relative(repoRoot, source).split('/')
      return !skip.has(parts[0] ?? '') && (!parts.includes('node_modules') || parts[0] === 'provision')
    }
    await cp(repoRoot, copy, { recursive: true, filter: wanted })
    const source = await readFile(join(copy, file), 'utf8')
    const broken = breakIt(source)
    t.not(broken, source, `${file} is broken in the copy`)
    await writeFile(join(copy, file), broken)

    // The apps the deploy does not touch, probed through nginx all along.
    const failures: string[] = []
    let probing = true
    let probes = 0
    const probe = (async () => {
      while (probing) {
        for (const path of ['/transactions/health', '/loyalty/health']) {
          const reply = await curl([`${platformUrl}${path}`]).catch((err: unknown) => ({ status: 0, text: String(err) }))
          probes++
          if (reply.status !== 200) failures.push(`${path} → ${reply.status}`)
        }
        await sleep(100)
      }
    })()
    const deploy = await $({ nothrow: true, timeout: '10m', env: { ...process.env, SUDO_USER: loginUser } })`env -u NODE_OPTIONS sh ${join(copy, 'provision', 'bootstrap.sh')}`
    probing = false
    await probe
    const shown = { output: `${deploy.stdout}${deploy.stderr}`.slice(-4000) }

    t.equal(deploy.exitCode, 1, 'the provisioner exits 1: the deploy failed', shown)
    t.match(deploy.stdout, /rollback: (ensurePm2Running|ensureSmokeTest) failed after the deploy; putting the previous release back \(auth\)/, 'it says it rolls back, and which app', shown)
    t.match(deploy.stdout, /rollback: the previous release is back and healthy/, shown)
    t.match(deploy.stdout, /auth-error\.log \(last lines\)/, "with the failed release's log tail", shown)
    t.notMatch(await readFile(join('/opt/yoyo-platform', file), 'utf8'), /broken on purpose/, 'the running release is the previous one')
    for (const path of ['/authentication/health', '/transactions/health', '/loyalty/health']) {
      t.equal((await curl([`${platformUrl}${path}`])).status, 200, `${path} → 200 after the rollback`)
    }
    t.ok(probes > 10, `the other apps were probed ${probes} times during the deploy`)
    t.same(failures, [], 'none of those requests failed')
  })
}

await t.test('when the provisioner runs from the checkout after the rollbacks, then it changes nothing', async (t) => {
  const output = await provision([], loginUser)
  const recap = parseRecap(output.stdout)
  t.equal(output.exitCode, 0, { output: output.stdout })
  t.equal(recap.changed, 0, `no step changed anything (${recap.line})`, { output: output.stdout })
})

await t.test('when vagrant validates the Vagrantfile, then it passes', async (t) => {
  const output = await $({ nothrow: true, timeout: '60s', cwd: repoRoot })`vagrant validate`
  t.equal(output.exitCode, 0, 'vagrant validate exits 0', { output: `${output.stdout}${output.stderr}` })
  t.match(output.stdout, /validated successfully/, '"Vagrantfile validated successfully."')
})
