// The application code on a provisioned machine (`npm run test:platform`, as root, after
// `sudo ./provision/bootstrap.sh`): /opt/yoyo-platform, its build (dist/) and its node_modules are root's
// and read-only to user yoyo, who runs the services: yoyo reads them, cannot change, add or delete a
// file; only production dependencies are installed (no compiler, no test tools); PM2 runs the build.
import { existsSync } from 'node:fs'
import t from 'tap'
import { $ } from 'zx/core'
import { userOf } from './exposure.ts'
import { pm2ListAsRoot } from './clients.ts'

$.quiet = true

const APP_DIR = '/opt/yoyo-platform'
const APP_USER = 'yoyo'
const ENV_FILE = '/etc/yoyo-platform/platform.env'

const provisioned = process.getuid?.() === 0 && existsSync(ENV_FILE) && existsSync(`${APP_DIR}/node_modules`)
if (!provisioned) t.bailout(`run me as root on a provisioned machine (sudo ./provision/bootstrap.sh first): uid ${String(process.getuid?.())}`)

/** Runs `script` with sh as the app user (no login shell: runuser, as the provisioner does). */
const asAppUser = (script: string) => $({ nothrow: true, timeout: '20s' })`runuser -u ${APP_USER} -- sh -c ${script}`

t.test('when the provisioner has run, then every file of the app is root\'s and none is writable by its group or others', async (t) => {
  const notRootOrAppGroup = ['(', '!', '-user', 'root', '-o', '!', '-group', 'root', '!', '-group', APP_USER, ')']
  const notRoots = await $({ timeout: '60s' })`find ${APP_DIR} ${notRootOrAppGroup} -print`
  t.equal(notRoots.stdout.trim(), '', 'no file or directory owned by another user or group than root (group root or yoyo)')
  // Symbolic links (node_modules/.bin) always show 0777: what they point at is what counts.
  const writable = await $({ timeout: '60s' })`find ${APP_DIR} ! -type l -perm /022 -print`
  t.equal(writable.stdout.trim(), '', 'nothing group- or world-writable')
})

t.test('when user yoyo tries to change its code, its build or its dependencies, then it cannot; it can read them', async (t) => {
  // The kernel's own answer for yoyo (access(2) as that user: `test -w`), so a machine where yoyo could
  // write fails the test without a file being changed.
  const files = [
    `${APP_DIR}/dist/services/auth-api/main.js`,
    `${APP_DIR}/services/auth-api/main.ts`,
    `${APP_DIR}/ecosystem.config.cjs`,
    `${APP_DIR}/node_modules/express/package.json`,
  ]
  for (const file of files) {
    t.ok(existsSync(file), `${file} is there`)
    t.equal((await asAppUser(`cat ${file} >/dev/null`)).exitCode, 0, `yoyo reads ${file}`)
    t.not((await asAppUser(`test -w ${file}`)).exitCode, 0, `yoyo cannot write ${file}`)
  }
  // A directory yoyo could write to lets it replace or delete any file in it: none of them.
  for (const dir of [APP_DIR, `${APP_DIR}/dist`, `${APP_DIR}/dist/services/auth-api`, `${APP_DIR}/services/auth-api`, `${APP_DIR}/node_modules`, `${APP_DIR}/node_modules/express`]) {
    t.not((await asAppUser(`test -w ${dir}`)).exitCode, 0, `yoyo cannot add, replace or delete a file in ${dir}`)
  }
  // And for real, once: a new file in the code's directory (removed again if it ever gets there).
  const planted = `${APP_DIR}/dist/services/auth-api/planted-${process.pid}.js`
  t.teardown(() => $({ nothrow: true })`rm -f ${planted}`)
  const create = await asAppUser(`echo 'process.exit(1)' > ${planted}`)
  t.ok(create.exitCode !== 0 && !existsSync(planted), `yoyo cannot create ${planted}: ${create.stderr.trim()}`)
})

t.test('when the dependencies are listed, then only production ones are installed: no compiler, linter or test tools', async (t) => {
  for (const dev of ['typescript', 'tap', 'eslint', 'playwright-core', 'tsx', 'autocannon']) {
    t.notOk(existsSync(`${APP_DIR}/node_modules/${dev}`), `${dev} (a dev dependency) is not installed`)
  }
  for (const production of ['express', 'ioredis', 'kue', 'pm2']) t.ok(existsSync(`${APP_DIR}/node_modules/${production}`), `${production} is`)
})

t.test('when PM2 runs the services, then each runs the build in the app dir, as yoyo', async (t) => {
  const list = await pm2ListAsRoot()
  t.ok(list.length >= 4, `PM2 runs the apps (${list.length} processes)`)
  for (const p of list) {
    const script = (p.pm2_env as { pm_exec_path?: string } | undefined)?.pm_exec_path ?? ''
    t.match(script, new RegExp(`^${APP_DIR}/dist/services/[a-z-]+/main\\.js$`), `${p.name} runs ${script}`)
    t.equal(await userOf(p.pid), APP_USER, `${p.name} (pid ${p.pid}) runs as ${APP_USER}`)
  }
})
