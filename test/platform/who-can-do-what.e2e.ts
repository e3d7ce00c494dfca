// Who can do what on a provisioned machine (README, "Who can do what on the machine"), as root on it:
// `npm run test:platform`. Two throwaway login users are made for it and removed at the end, one outside
// group yoyo and one in it, and each tries what the README says it can and cannot do:
//
//   - any other local user: reaches nginx's port; cannot reach PM2's socket, read the env file, the
//     application's code, PM2's logs or saved list, or Redis's ACL file, and Redis wants a login from it;
//   - a member of group yoyo (the operator role): `pm2 ls`, `pm2 scale loyalty N` (put back), PM2's logs,
//     the code; not the env file directly, but through PM2 it runs any program as yoyo, which can: the
//     group is as powerful as user yoyo, as the README says.
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import t from 'tap'
import { $ } from 'zx/core'
import { asUser, instancesOf, platformUrl, pm2List, waitFor, waitForInstances } from './clients.ts'

const ENV_FILE = '/etc/yoyo-platform/platform.env'
const PM2_HOME = '/var/lib/yoyo-platform/.pm2'
const APP_DIR = '/opt/yoyo-platform'
const REDIS_ACL = '/etc/redis/yoyo-platform.acl'
const APP_USER = 'yoyo'

if (!(process.getuid?.() === 0 && existsSync(ENV_FILE) && existsSync('/usr/local/bin/pm2'))) {
  t.bailout(`run me as root on a provisioned machine (sudo ./provision/bootstrap.sh first)`)
}

const suffix = randomBytes(3).toString('hex')
const outsider = `yoyo-out-${suffix}`
const member = `yoyo-op-${suffix}`
for (const [user, groups] of [[outsider, []], [member, ['--groups', APP_USER]]] as const) {
  await $`useradd --create-home --shell /bin/sh ${groups} ${user}`
  t.teardown(() => $({ nothrow: true })`userdel --remove ${user}`)
}
t.comment(`throwaway users: ${outsider} (not in ${APP_USER}), ${member} (in ${APP_USER})`)

/** Runs `command` as `user` (a login shell): whether it succeeded, and what it said. */
async function attempt(user: string, command: string): Promise<{ ok: boolean; said: string }> {
  const output = await asUser(user, command)
  return { ok: output.exitCode === 0, said: `${output.stdout}${output.stderr}`.trim().split('\n')[0] ?? '' }
}

// One of each kind of file the README names: the code, PM2's logs and saved list.
const codeFile = `${APP_DIR}/dist/services/auth-api/main.js`
const logFile = (await $`ls ${PM2_HOME}/logs`).stdout.split('\n').find((name) => name.endsWith('.log'))
const pm2Log = `${PM2_HOME}/logs/${logFile}`

await t.test('when a local user outside group yoyo tries the platform, then only nginx answers them', async (t) => {
  t.equal((await attempt(outsider, `curl -s -o /dev/null -w '%{http_code}' ${platformUrl}/loyalty/health`)).said, '200', 'nginx: the platform, like any client')
  const pm2 = await attempt(outsider, 'pm2 ls')
  t.notOk(pm2.ok, `pm2 ls: refused (${pm2.said})`)
  const socket = await attempt(outsider, `node -e "require('net').connect('${PM2_HOME}/rpc.sock').on('connect',()=>process.exit(0)).on('error',(e)=>{console.log(e.code);process.exit(1)})"`)
  t.notOk(socket.ok, `PM2's socket, straight: ${socket.said}`)
  for (const file of [ENV_FILE, codeFile, pm2Log, REDIS_ACL]) t.ok(existsSync(file), `${file} is there (a refusal below is not a missing file)`)
  for (const [what, file] of [['the env file', ENV_FILE], ["the application's code", codeFile], ["PM2's log", pm2Log], ["PM2's saved list", `${PM2_HOME}/dump.pm2`], ["Redis's users", REDIS_ACL]]) {
    const read = await attempt(outsider, `cat ${file} > /dev/null`)
    t.notOk(read.ok, `${what} (${file}): ${read.said}`)
  }
  t.notOk((await attempt(outsider, `ls ${APP_DIR}`)).ok, `cannot list ${APP_DIR}`)
  t.match((await attempt(outsider, 'redis-cli -h 127.0.0.1 ping')).said, /NOAUTH/, 'Redis: a login first')
})

await t.test(`when a member of group ${APP_USER} runs PM2, then they list and scale the platform, and run programs as ${APP_USER}`, async (t) => {
  const list = await pm2List(member)
  const before = instancesOf(list, 'loyalty').length
  t.ok(before > 0, `pm2 jlist: ${list.length} processes, loyalty × ${before}`)
  t.ok((await attempt(member, 'pm2 ls')).ok, 'pm2 ls')
  t.teardown(async () => {
    // Put the count back whatever happened (no `pm2 save`: the saved list is left as it was).
    if (instancesOf(await pm2List(member).catch(() => []), 'loyalty').length !== before) await asUser(member, `pm2 scale loyalty ${before}`)
  })
  const scaled = await attempt(member, `pm2 scale loyalty ${before + 1}`)
  t.ok(scaled.ok, `pm2 scale loyalty ${before + 1}: ${scaled.said}`)
  t.equal((await waitForInstances(member, 'loyalty', before + 1)).length, before + 1, `${before + 1} online`)
  t.ok((await attempt(member, `pm2 scale loyalty ${before}`)).ok, `pm2 scale loyalty ${before}: put back`)
  t.equal((await waitForInstances(member, 'loyalty', before)).length, before, `${before} online again`)

  t.ok((await attempt(member, `cat ${pm2Log} > /dev/null`)).ok, `PM2's log (${pm2Log})`)
  t.ok((await attempt(member, `cat ${codeFile} > /dev/null`)).ok, `the application's code (${codeFile})`)
  const env = await attempt(member, `cat ${ENV_FILE}`)
  t.notOk(env.ok, `not the env file directly: ${env.said}`)
  t.notOk((await attempt(member, `cat ${REDIS_ACL} > /dev/null`)).ok, "nor Redis's users")

  // What makes the group as powerful as yoyo: PM2 starts any program for a member, as yoyo.
  const name = `who-can-probe-${suffix}`
  t.teardown(async () => {
    await asUser(member, `pm2 delete ${name}`)
    await $({ nothrow: true })`rm -f ${PM2_HOME}/logs/${name}-out.log ${PM2_HOME}/logs/${name}-error.log`
  })
  t.ok((await attempt(member, `pm2 start /usr/bin/id --name ${name} --no-autorestart`)).ok, `pm2 start /usr/bin/id as ${member}`)
  const ran = await waitFor(`${name}'s output`, 15_000, async () => {
    const out = (await asUser(member, `pm2 logs ${name} --nostream --lines 5 --raw`)).stdout
    return /uid=\d+\(yoyo\)/.test(out) ? { done: true, value: out } : { done: false, seen: out.slice(-200) }
  })
  t.match(ran, /uid=\d+\(yoyo\)/, `it ran as ${APP_USER}, who reads the env file`)
})
