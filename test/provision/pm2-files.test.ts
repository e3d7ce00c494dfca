import { execFile, execFileSync } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { renderLogrotate } from '../../provision/render/logrotate.ts'
import { renderPm2Unit } from '../../provision/render/pm2-unit.ts'
import { renderPm2Wrapper } from '../../provision/render/pm2-wrapper.ts'
import { renderProfile } from '../../provision/render/profile.ts'

const run = promisify(execFile)

t.test('when the PM2 unit is rendered, then it runs PM2 as the app user, group-accessible, saving at stop', async (t) => {
  const unit = renderPm2Unit({ user: 'yoyo', pm2Home: '/var/lib/yoyo-platform/.pm2', node: '/usr/local/lib/nodejs/node-v24.21.0/bin/node', pm2Bin: '/opt/yoyo-platform/node_modules/pm2/bin/pm2', path: '/usr/local/lib/nodejs/node-v24.21.0/bin:/usr/bin:/bin' })
  const pm2 = '/usr/local/lib/nodejs/node-v24.21.0/bin/node /opt/yoyo-platform/node_modules/pm2/bin/pm2'
  for (const line of [
    'Type=forking',
    'User=yoyo',
    'Group=yoyo',
    'UMask=0007',
    'Environment=PM2_HOME=/var/lib/yoyo-platform/.pm2',
    'Environment=PATH=/usr/local/lib/nodejs/node-v24.21.0/bin:/usr/bin:/bin',
    'PIDFile=/var/lib/yoyo-platform/.pm2/pm2.pid',
    // Longer than systemd's 90 s default: a resurrect on a busy machine at boot was killed (found by test:vm).
    'TimeoutStartSec=5min',
    `ExecStart=${pm2} resurrect`,
    `ExecReload=${pm2} reload all`,
    'WantedBy=multi-user.target',
  ]) t.match(unit, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), line)
  const stops = unit.split('\n').filter((line) => line.startsWith('ExecStop='))
  t.same(stops, [`ExecStop=-${pm2} save --force`, `ExecStop=${pm2} kill`], 'save (failure tolerated), then kill')
  t.match(unit, /^\[Unit\][\s\S]*^\[Service\][\s\S]*^\[Install\]/m)
})

t.test('when the profile script is rendered, then it is valid sh exporting PM2_HOME and the app dir', async (t) => {
  const script = renderProfile({ pm2Home: '/var/lib/yoyo-platform/.pm2', appDir: '/opt/yoyo-platform' })
  const { stdout } = await run('sh', ['-c', `. /dev/stdin <<'EOF'\n${script}EOF\necho "$PM2_HOME|$YOYO_APP_DIR"`])
  t.equal(stdout.trim(), '/var/lib/yoyo-platform/.pm2|/opt/yoyo-platform')
})

t.test('when the logrotate config is rendered, then it copies-and-truncates PM2\'s open logs as the app user', async (t) => {
  const text = renderLogrotate({ pm2Home: '/var/lib/yoyo-platform/.pm2', user: 'yoyo' })
  t.match(text, /^\/var\/lib\/yoyo-platform\/\.pm2\/logs\/\*\.log \/var\/lib\/yoyo-platform\/\.pm2\/pm2\.log \{$/m)
  t.match(text, /^\s+copytruncate$/m)
  t.match(text, /^\s+su yoyo yoyo$/m)
  t.notMatch(text, /^\s+create/m, 'create means nothing with copytruncate')
})

// The wrapper is run for real: a fake "node" prints who runs it, the umask, PM2_HOME and its arguments.
async function wrapperFixture(t: Test, user: string) {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-wrapper-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await chmod(dir, 0o755)
  const fakeNode = join(dir, 'node')
  await writeFile(fakeNode, '#!/bin/sh\necho "$(id -un)|$(umask)|$PM2_HOME|$*"\n')
  await chmod(fakeNode, 0o755)
  const pm2Home = join(dir, 'pm2home')
  const { mkdir } = await import('node:fs/promises')
  await mkdir(pm2Home, { mode: 0o755 })
  const wrapper = join(dir, 'pm2')
  await writeFile(wrapper, renderPm2Wrapper({ user, pm2Home, node: fakeNode, pm2Bin: '/opt/pm2/bin/pm2', unit: 'pm2-yoyo.service' }))
  await chmod(wrapper, 0o755)
  return { dir, wrapper, pm2Home }
}

const isRoot = process.getuid?.() === 0

t.test('when root runs pm2, then it runs as the app user with umask 0007 and the platform PM2_HOME', { skip: !isRoot && 'needs root (runuser)' }, async (t) => {
  const { wrapper, pm2Home } = await wrapperFixture(t, 'nobody')
  const { stdout } = await run(wrapper, ['ls', '--no-color'], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', PM2_HOME: '/elsewhere' } })
  t.equal(stdout.trim(), `nobody|0007|${pm2Home}|/opt/pm2/bin/pm2 ls --no-color`)
})

t.test('when another user runs pm2 while the daemon is down, then it says so instead of starting a second daemon', { skip: !isRoot && 'needs root (runuser)' }, async (t) => {
  const { wrapper, pm2Home } = await wrapperFixture(t, 'daemon')
  const asNobody = (args: string[]) => run('runuser', ['-u', 'nobody', '--', wrapper, ...args], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } })
  await t.rejects(asNobody(['ls']), { code: 1, stderr: /daemon is not running; start it with: sudo systemctl start pm2-yoyo\.service/ })
  t.match((await asNobody(['--version'])).stdout, /^nobody\|0007\|/, '--version still works')
  await writeFile(join(pm2Home, 'pm2.pid'), String(process.pid))
  t.equal((await asNobody(['ls'])).stdout.trim(), `nobody|0007|${pm2Home}|/opt/pm2/bin/pm2 ls`, 'a live daemon: passed through')
  await chmod(pm2Home, 0o700)
  await t.rejects(asNobody(['ls']), { code: 1, stderr: /you need to be in group daemon/ })
})

const hasSystemdAnalyze = (() => {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})()

t.test('when systemd checks the rendered unit, then it finds nothing wrong', { skip: !hasSystemdAnalyze && 'no systemd-analyze' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-unit-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const unit = join(dir, 'pm2-yoyo.service')
  const pm2Bin = join(import.meta.dirname, '..', '..', 'node_modules', 'pm2', 'bin', 'pm2')
  await writeFile(unit, renderPm2Unit({ user: userInfo().username, pm2Home: dir, node: process.execPath, pm2Bin, path: '/usr/bin:/bin' }))
  const { stderr } = await run('systemd-analyze', ['verify', unit])
  t.equal(stderr.split('\n').filter((line) => line.includes('pm2-yoyo.service')).join('\n'), '', 'no complaint about our unit')
})
