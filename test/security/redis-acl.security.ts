// Redis least privilege (provision/render/redis-acl.ts), against a real redis-server loaded with the ACL
// file the provisioner writes and the four services running as their own Redis users behind nginx:
// the services work; each one's connections are its own user's; every user is refused the commands that
// wipe, reconfigure or list the server and every key outside its patterns, also from inside a script;
// a client that does not log in, or logs in as `default`, can do nothing.
//
//   npm run build && npx tap --disable-coverage test/security/redis-acl.security.ts
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import t from 'tap'
import { PROVISIONER_USER, redisUsersOf } from '../../provision/render/redis-acl.ts'
import { appNamesOf, platform } from '../../services/shared/platform.ts'
import { startIsolatedPlatform } from '../helpers/isolated-platform.ts'
import { TEST_ADMIN_USER } from '../helpers/redis-server.ts'

const stack = await startIsolatedPlatform()
t.teardown(() => stack.stop())
const { redis } = stack
const apps = appNamesOf(platform)

function clientAs(url: string | { port: number }): Redis {
  const client = typeof url === 'string'
    ? new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    : new Redis({ port: url.port, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  return client
}

/** What Redis answers: the reply, or its error's first word (NOPERM, NOAUTH, WRONGPASS...). */
async function answer(client: Redis, command: string, ...args: (string | number)[]): Promise<string> {
  try {
    return `ok: ${JSON.stringify(await client.call(command, ...args)).slice(0, 60)}`
  } catch (err) {
    return (err as Error).message.split(' ')[0]!
  }
}

const json = async (response: Response): Promise<Record<string, unknown>> => (await response.json()) as Record<string, unknown>

await t.test('when the services run as their own Redis users, then a login, a transaction, its loyalty and the queue dashboard all work', async (t) => {
  const token = await json(await fetch(`${stack.url}/authentication/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password: 'password' }) }))
  t.type(token.token, 'string', 'the Auth API read alice (user:alice) and counted nothing against her')
  const bearer = { authorization: `Bearer ${String(token.token)}` }
  const created = await fetch(`${stack.url}/transactions`, { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: JSON.stringify({ amount: 500, currency: 'GBP' }) })
  t.equal(created.status, 202, 'the Transaction API stored it and queued its job')
  const { id } = (await json(created)) as { id: string }
  let status = ''
  for (let i = 0; i < 100 && status !== 'completed'; i++) {
    await sleep(100)
    status = String((await json(await fetch(`${stack.url}/transactions/${id}`, { headers: bearer }))).status)
  }
  t.equal(status, 'completed', 'the Loyalty Worker took the job and awarded it')
  const loyalty = await fetch(`${stack.url}/loyalty/me`, { headers: bearer })
  t.equal(loyalty.status, 200)
  const basic = { authorization: `Basic ${Buffer.from(`${stack.dashboard.user}:${stack.dashboard.password}`).toString('base64')}` }
  const stats = await fetch(`${stack.url}/queue/stats`, { headers: basic })
  t.equal(stats.status, 200, "the dashboard reads kue's counts")
  t.match(await json(stats), { completeCount: Number }, 'as numbers')
})

await t.test('when the services are connected, then each connection is its own app\'s user, never default', async (t) => {
  const list = String(await redis.client.call('CLIENT', 'LIST'))
  const users = list.trim().split('\n').map((line) => /\buser=(\S+)/.exec(line)?.[1]).filter((user) => user !== TEST_ADMIN_USER)
  t.same([...new Set(users)].sort(), [...apps].sort(), `connections by user: ${users.join(' ')}`)
  t.comment(`figures redis-connections: ${apps.map((app) => `${app}=${users.filter((u) => u === app).length}`).join(' ')}`)
})

// Commands no service needs and that wipe, stop, reconfigure, watch or list the server, each with harmless arguments.
const dangerous: [string, ...(string | number)[]][] = [
  ['FLUSHALL'], ['FLUSHDB'], ['CONFIG', 'GET', 'dir'], ['CONFIG', 'SET', 'dir', '/tmp'], ['KEYS', '*'], ['SCAN', 0],
  ['SHUTDOWN', 'NOSAVE'], ['ACL', 'LIST'], ['ACL', 'SETUSER', 'intruder', 'on', '>pw', '+@all', '~*'], ['CLIENT', 'LIST'], ['CLIENT', 'KILL', 'ID', 1],
  ['MONITOR'], ['SAVE'], ['BGSAVE'], ['BGREWRITEAOF'], ['REPLICAOF', 'NO', 'ONE'], ['SWAPDB', 0, 1], ['SORT', 'q:jobs'], ['MIGRATE', '127.0.0.1', 1, 'k', 0, 10],
  ['RESTORE', 'k', 0, 'x'], ['SCRIPT', 'FLUSH'], ['FUNCTION', 'FLUSH'], ['MODULE', 'LIST'], ['DBSIZE'], ['RANDOMKEY'], ['OBJECT', 'ENCODING', 'k'],
]

// One key each user has no business with, from another's patterns (services/shared/keys.ts).
const foreignKey: Record<string, string> = {
  [PROVISIONER_USER]: 'loyalty:1',
  auth: 'transaction:00000000-0000-0000-0000-000000000000',
  transactions: 'user:alice',
  loyalty: 'user:alice',
  dashboard: 'transaction:00000000-0000-0000-0000-000000000000',
}

for (const user of Object.keys(redisUsersOf(platform))) {
  await t.test(`when the ${user} user sends a dangerous command or touches another's key, then Redis refuses it (NOPERM)`, async (t) => {
    const client = clientAs(redis.urlOf(user))
    await client.connect()
    t.equal(await client.ping(), 'PONG', 'logged in')
    const refused = []
    let asked = 0
    for (const [command, ...args] of dangerous) {
      // The provisioner's one read of the config: is the append-only file on (provision/steps/redis.ts).
      if (user === PROVISIONER_USER && command === 'CONFIG' && args[0] === 'GET') continue
      const reply = await answer(client, command, ...args)
      asked++
      t.equal(reply, 'NOPERM', `${[command, ...args].join(' ')}: ${reply}`)
      if (reply === 'NOPERM') refused.push(command)
    }
    // DEBUG is refused before the ACL is asked (enable-debug-command is off): ACL DRYRUN asks the ACL itself.
    for (const command of [['DEBUG', 'SLEEP', '0'], ['DEBUG', 'RELOAD'], ['FLUSHALL'], ['CONFIG', 'SET', 'dir', '/tmp'], ['SHUTDOWN']]) {
      const verdict = String(await redis.client.call('ACL', 'DRYRUN', user, ...command))
      t.not(verdict, 'OK', `ACL DRYRUN ${user} ${command.join(' ')}: ${verdict.slice(0, 60)}`)
    }
    const key = foreignKey[user]
    t.ok(key, `a foreign key for ${user} (a new user needs one here)`)
    t.equal(await answer(client, 'HGETALL', key!), 'NOPERM', `HGETALL ${key}`)
    t.equal(await answer(client, 'DEL', key!), 'NOPERM', `DEL ${key}`)
    t.equal(await answer(client, 'SET', 'elsewhere:x', 1), 'NOPERM', 'a key no pattern names')
    t.comment(`figures redis-acl-${user}: refused=${refused.length}/${asked} foreign_key=${key}`)
  })
}

await t.test('when an app user runs a script, then the script is held to the same commands and keys', async (t) => {
  const client = clientAs(redis.urlOf('transactions'))
  await client.connect()
  t.match(await answer(client, 'EVAL', "return redis.call('HGETALL', 'user:alice')", 0), /NOPERM|ERR/, 'a key outside its patterns')
  t.match(await answer(client, 'EVAL', "return redis.call('FLUSHALL')", 0), /NOPERM|ERR/, 'a command it lacks')
  t.equal(await redis.client.exists('user:alice'), 1, 'alice is still there')
})

await t.test('when a client does not log in, or logs in as default, then it can do nothing', async (t) => {
  const anonymous = clientAs({ port: redis.port })
  await anonymous.connect()
  for (const [command, ...args] of [['PING'], ['GET', 'user:alice'], ['FLUSHALL'], ['CONFIG', 'GET', 'dir']] as [string, ...string[]][]) {
    t.equal(await answer(anonymous, command, ...args), 'NOAUTH', `${command} without logging in`)
  }
  for (const password of ['', 'password', redis.passwords[PROVISIONER_USER]!]) {
    t.match(await answer(anonymous, 'AUTH', 'default', password || 'x'), /WRONGPASS|ERR/, 'AUTH as default: refused, whatever the password')
  }
  t.match(await answer(anonymous, 'AUTH', redis.passwords.auth!), /WRONGPASS|ERR/, "an app's password alone (AUTH <password> is default's)")
})

await t.test('when a user gives another user\'s password, then it is refused', async (t) => {
  const client = clientAs({ port: redis.port })
  await client.connect()
  t.match(await answer(client, 'AUTH', 'auth', redis.passwords.loyalty!), /WRONGPASS/)
})
