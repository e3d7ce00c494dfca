// The provisioned Redis's users (provision/render/redis-acl.ts), as root on a provisioned machine:
// `npm run test:platform`. The ACL file is in place (0640 root:redis, hashes only); each app of
// platform.json logs in with its own REDIS_URL_<APP> from the env file and is refused what it must not do;
// the provisioner's user answers the provisioner's checks and no more; `default` serves nobody; the
// services, connected as their users, are healthy.
import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import t from 'tap'
import { $ } from 'zx/core'
import { PROVISIONER_USER } from '../../provision/render/redis-acl.ts'
import { appNamesOf, platform, publicHealthPathsOf } from '../../services/shared/platform.ts'
import { ownRedisUrlVariable } from '../../services/shared/redis-users.ts'
import { platformUrl, readEnvFile } from './clients.ts'

const ENV_FILE = '/etc/yoyo-platform/platform.env'
const REDIS_ACL = '/etc/redis/yoyo-platform.acl'

if (!(process.getuid?.() === 0 && existsSync(ENV_FILE))) t.bailout('run me as root on a provisioned machine (sudo ./provision/bootstrap.sh first)')

const settings = await readEnvFile(ENV_FILE)
const apps = appNamesOf(platform)

/** redis-cli as `user` (the password in the environment, never on the command line): its answer's first line, or all of it. */
async function cli(user: string | undefined, password: string | undefined, args: string[], { wholeAnswer = false } = {}): Promise<string> {
  const login = user === undefined ? [] : ['--user', user]
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(password === undefined ? {} : { REDISCLI_AUTH: password }) }
  const output = await $({ nothrow: true, env, timeout: '10s' })`redis-cli --no-auth-warning -h 127.0.0.1 -p 6379 ${login} ${args}`
  const answer = `${output.stdout}${output.stderr}`.trim()
  return wholeAnswer ? answer : (answer.split('\n')[0] ?? '')
}

await t.test('when the ACL file is inspected, then it is 0640 root:redis with default off and a user per app, and holds no password', async (t) => {
  const info = await stat(REDIS_ACL)
  t.equal((info.mode & 0o777).toString(8), '640')
  t.equal(info.uid, 0, 'owned by root')
  t.equal(info.gid, Number((await $`getent group redis`).stdout.split(':')[2]), 'group redis')
  const text = await readFile(REDIS_ACL, 'utf8')
  t.match(text, /^user default off /m)
  for (const user of [PROVISIONER_USER, ...apps]) t.match(text, new RegExp(`^user ${user} on #[0-9a-f]{64} `, 'm'), `user ${user}`)
  t.notMatch(text, /@admin|@dangerous/, 'no @admin or @dangerous category is granted')
  for (const [name, value] of Object.entries(settings)) {
    if (/PASSWORD|SECRET|^REDIS_URL_/.test(name)) t.notOk(text.includes(name.startsWith('REDIS_URL_') ? new URL(value).password : value), `${name}'s secret is not in it`)
  }
})

for (const app of apps) {
  await t.test(`when ${app} logs in with its REDIS_URL_${app.toUpperCase()}, then it is ${app} and is refused the server's controls and others' keys`, async (t) => {
    const value = settings[ownRedisUrlVariable(app)]
    t.ok(value, `${ownRedisUrlVariable(app)} is in the env file`)
    const url = new URL(value ?? 'redis://x@127.0.0.1')
    t.equal(url.username, app, 'it names its own user')
    const password = decodeURIComponent(url.password)
    t.equal(await cli(app, password, ['ping']), 'PONG')
    for (const command of [['flushall'], ['config', 'get', 'dir'], ['keys', '*'], ['scan', '0'], ['acl', 'list'], ['client', 'list'], ['shutdown', 'nosave'], ['debug', 'sleep', '0']]) {
      t.match(await cli(app, password, command), /NOPERM|DEBUG command not allowed/, `${command.join(' ')}: refused`)
    }
    const foreign = app === 'auth' ? 'transaction:x' : 'user:alice'
    t.match(await cli(app, password, ['hgetall', foreign]), /NOPERM/, `${foreign}: not its key`)
  })
}

await t.test("when the provisioner's user is used, then it answers the provisioner's checks and nothing more", async (t) => {
  const password = settings.REDIS_PASSWORD
  t.equal(await cli(PROVISIONER_USER, password, ['acl', 'whoami']), PROVISIONER_USER)
  // HGETALL's first field is whichever field the record was written with first: look at the whole answer.
  t.match(await cli(PROVISIONER_USER, password, ['hgetall', 'user:alice'], { wholeAnswer: true }), /^password_hash\nscrypt\$/m, 'the seeding check: it reads the users\' records')
  t.match(await cli(PROVISIONER_USER, password, ['info', 'persistence']), /Persistence/, 'status: INFO')
  for (const command of [['flushall'], ['config', 'set', 'dir', '/tmp'], ['keys', '*'], ['hset', 'user:alice', 'can_transact', 'false'], ['hgetall', 'loyalty:1'], ['acl', 'setuser', 'x', 'on']]) {
    t.match(await cli(PROVISIONER_USER, password, command), /NOPERM/, `${command.join(' ')}: refused`)
  }
})

await t.test('when a client does not log in, or logs in as default (with the old single password too), then Redis refuses it', async (t) => {
  t.match(await cli(undefined, undefined, ['ping']), /NOAUTH/, 'no login: NOAUTH')
  t.match(await cli(undefined, settings.REDIS_PASSWORD, ['ping']), /WRONGPASS|NOAUTH/, 'AUTH <password> (default) with the password of before Redis had users: refused')
  t.match(await cli('default', 'anything', ['ping']), /WRONGPASS|NOAUTH/, 'AUTH default: refused')
})

await t.test('when the services run as their Redis users, then every app and site is healthy through nginx', async (t) => {
  for (const { name, path } of publicHealthPathsOf(platform)) {
    const status = (await $({ nothrow: true })`curl -s -o /dev/null -w ${'%{http_code}'} ${platformUrl + path}`).stdout.trim()
    t.equal(status, '200', `${name}: GET ${path} → ${status}`)
  }
})
