// The provisioner's generic resources (lib/service.ts, command.ts, packages.ts, wait.ts, facts.ts,
// pm2-list.ts, files.ts' validation), on temp paths and real processes.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { lstat, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ensureCommand, madeEarlier } from '../../provision/lib/command.ts'
import { factCache } from '../../provision/lib/facts.ts'
import { ensureFile, ensureSymlink } from '../../provision/lib/files.ts'
import { installedPackages } from '../../provision/lib/packages.ts'
import { defaultPaths } from '../../provision/lib/paths.ts'
import { appsNotOnline, parsePm2List } from '../../provision/lib/pm2-list.ts'
import { ensureService, type ServiceSpec } from '../../provision/lib/service.ts'
import { configureShell } from '../../provision/lib/shell.ts'
import { runningPid } from '../../provision/lib/system.ts'
import { done, notYet, waitUntil } from '../../provision/lib/wait.ts'
import { stepContext, tempDir } from '../helpers/step-context.ts'

configureShell(false)

const context = (dir: string, check = false) => stepContext(defaultPaths(dir), check)

t.test('waitUntil', async (t) => {
  let clock = 0
  const fake = { now: () => clock, sleep: async (ms: number) => { clock += ms } }

  t.test('when the probe is done on its third try, then its value comes back', async (t) => {
    let tries = 0
    const value = await waitUntil('never', async () => (++tries === 3 ? done('there') : notYet(`try ${tries}`)), { timeoutMs: 1000, intervalMs: 100, ...fake })
    t.equal(value, 'there')
    t.equal(tries, 3)
  })

  t.test('when the probe is never done, then it fails after the timeout, naming what and the last thing seen', async (t) => {
    clock = 0
    let tries = 0
    await t.rejects(waitUntil('Redis did not answer PING', async () => notYet(`answer ${++tries}`), { timeoutMs: 1000, intervalMs: 100, ...fake }), /^Redis did not answer PING within 1 s \(last: answer 11\)$/)
    t.equal(clock, 1000, 'probed until the deadline, no longer')
  })

  t.test('when the probe throws, then the wait stops at once with that error', async (t) => {
    clock = 0
    await t.rejects(waitUntil('x', async () => { throw new Error('wrong password') }, { timeoutMs: 1000, intervalMs: 100, ...fake }), /^wrong password$/)
    t.equal(clock, 0)
  })
})

t.test('when pm2 jlist prints notices before its list, then the one reader finds the list and which apps are not online', async (t) => {
  const list = parsePm2List('[PM2] Spawning PM2 daemon\n[PM2] PM2 Successfully daemonized\n' + JSON.stringify([
    { name: 'auth', pm2_env: { status: 'online' } },
    { name: 'loyalty', pm2_env: { status: 'online' } },
    { name: 'loyalty', pm2_env: { status: 'errored' } },
    { name: 'dashboard', pm2_env: { status: 'online' } },
  ]) + '\n')
  t.ok(list)
  t.same(appsNotOnline(list!, ['auth', 'transactions', 'loyalty', 'dashboard']), ['transactions', 'loyalty'])
  t.same(appsNotOnline(list!, ['auth', 'dashboard'], { dashboard: 2 }), ['dashboard'], 'a count that differs')
  t.equal(parsePm2List('not a list'), undefined)
  t.same(parsePm2List('[]'), [])
})

t.test('ensureCommand', async (t) => {
  const dir = await tempDir(t)

  t.test('when the probe says the state holds, then nothing runs and nothing is reported', async (t) => {
    const ctx = context(dir)
    let ran = false
    t.equal(await ensureCommand(ctx, { change: 'create user x', holds: () => true, run: async () => { ran = true } }), undefined)
    t.notOk(ran)
    t.same(ctx.changes, [])
  })

  t.test('when it does not hold, then the command runs and its change is reported; under --check only reported', async (t) => {
    const ctx = context(dir)
    t.equal(await ensureCommand(ctx, { change: 'create user x', holds: async () => false, run: async () => 'made' }), 'made')
    t.same(ctx.changes, ['create user x'])
    const check = context(dir, true)
    let ran = false
    await ensureCommand(check, { change: 'create user x', holds: () => false, run: async () => { ran = true } })
    t.notOk(ran)
    t.same(check.changes, ['create user x'])
  })

  t.test('when only the command can tell what it changed, then that is reported (nothing: the step stays ok)', async (t) => {
    const ctx = context(dir)
    await ensureCommand(ctx, { change: 'seed users', holds: () => false, run: async () => [] as string[], changed: (written) => written })
    t.same(ctx.changes, [])
    await ensureCommand(ctx, { change: 'seed users', holds: () => false, run: async () => ['alice'], changed: (written) => written.map((w) => `seed ${w}`) })
    t.same(ctx.changes, ['seed alice'])
    const check = context(dir, true)
    await ensureCommand(check, { change: 'seed users', holds: () => false, run: async () => ['alice'], changed: (written) => written })
    t.same(check.changes, ['seed users'], 'under --check: what it would do')
  })

  t.test('when an earlier step\'s output is missing, then a real run fails naming that step, and --check reports what it would do', async (t) => {
    t.ok(madeEarlier(context(dir), true, 'publish', 'missing'))
    t.throws(() => madeEarlier(context(dir), false, 'publish', 'swagger-ui-dist is missing: run ensureAppBuilt first'), /run ensureAppBuilt first/)
    const check = context(dir, true)
    t.notOk(madeEarlier(check, false, 'publish the docs', 'missing'))
    t.same(check.changes, ['publish the docs'])
  })
})

t.test('when dpkg knows one package and not another, then installedPackages says which is installed', { skip: !existsSync('/usr/bin/dpkg-query') && 'not a Debian machine' }, async (t) => {
  const installed = await installedPackages(['bash', 'yoyo-no-such-package'])
  t.ok(installed.has('bash'))
  t.notOk(installed.has('yoyo-no-such-package'))
})

/** A daemon stand-in: `sleep` started detached, its pid in a file, as a service's pid file. */
async function startSleeper(t: Test, pidFile: string): Promise<number> {
  const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' })
  child.unref()
  const pid = child.pid!
  t.teardown(() => { try { process.kill(pid) } catch { /* gone */ } })
  await writeFile(pidFile, `${pid}\n`)
  return pid
}

t.test('ensureService without systemd', async (t) => {
  const dir = await tempDir(t)
  const pidFile = join(dir, 'sleeper.pid')
  const log: string[] = []
  const spec = (over: Partial<ServiceSpec> = {}): ServiceSpec => ({
    name: 'sleeper',
    direct: {
      pidFile,
      command: 'sleep',
      start: async () => { log.push('start'); await startSleeper(t, pidFile) },
      stop: async (pid) => { log.push(`stop ${pid === (await runningPid(pidFile)) ? 'it' : pid}`); process.kill(pid) },
      reload: async () => { log.push('reload') },
    },
    restartWhen: 'sleeper-restart',
    reloadWhen: 'sleeper-reload',
    beforeRestart: async () => { log.push('before restart') },
    ready: async () => { log.push('ready') },
    ...over,
  })

  t.test('when it is not running, then --check only reports the start, and a run starts it and waits for it', async (t) => {
    const check = context(dir, true)
    t.equal(await ensureService(check, spec()), true)
    t.match(check.changes, [/^start sleeper \(no systemd/])
    t.same(log, [])
    t.notOk(await runningPid(pidFile, 'sleep'))
    const ctx = context(dir)
    t.equal(await ensureService(ctx, spec()), true)
    t.same(log.splice(0), ['start', 'ready'])
    t.ok(await runningPid(pidFile, 'sleep'), 'running')
  })

  t.test('when it runs and nothing is owed, then nothing changes (and it still proves ready)', async (t) => {
    const ctx = context(dir)
    t.equal(await ensureService(ctx, spec()), false)
    t.same(ctx.changes, [])
    t.same(log.splice(0), ['ready'])
  })

  t.test('when a restart is owed, then it is restarted (after beforeRestart) and what was owed is cleared', async (t) => {
    const ctx = context(dir)
    await ctx.pending.add('sleeper-restart')
    await ctx.pending.add('sleeper-reload')
    const before = await runningPid(pidFile, 'sleep')
    await ensureService(ctx, spec())
    t.same(ctx.changes, ['restart sleeper (config changed)'], 'a restart covers the reload')
    t.same(log.splice(0), ['before restart', 'stop it', 'start', 'ready'])
    t.not(await runningPid(pidFile, 'sleep'), before, 'a new process')
    t.notOk(await ctx.pending.has('sleeper-restart'))
    t.notOk(await ctx.pending.has('sleeper-reload'))
  })

  t.test('when a reload is owed and its config does not validate, then nothing is done and the reload stays owed', async (t) => {
    const ctx = context(dir)
    await ctx.pending.add('sleeper-reload')
    await t.rejects(ensureService(ctx, spec({ validate: async () => { throw new Error('bad config') } })), /bad config/)
    t.same(log.splice(0), [])
    t.ok(await ctx.pending.has('sleeper-reload'), 'the next run reloads once the config is fixed')
    await ensureService(ctx, spec({ validate: async () => { log.push('valid') } }))
    t.same(log.splice(0), ['valid', 'reload', 'ready'])
    t.notOk(await ctx.pending.has('sleeper-reload'))
  })

  t.test('when a reload or restart is owed to a daemon that cannot do it without systemd, then the run fails saying so', async (t) => {
    const ctx = context(dir)
    await ctx.pending.add('sleeper-reload')
    const { reload: _reload, ...noReload } = spec().direct
    await t.rejects(ensureService(ctx, spec({ direct: noReload })), /sleeper cannot be reloaded without systemd/)
    t.ok(await ctx.pending.has('sleeper-reload'), 'still owed')
    await ctx.pending.done('sleeper-reload')
    await ctx.pending.add('sleeper-restart')
    const { stop: _stop, ...noStop } = spec().direct
    await t.rejects(ensureService(ctx, spec({ direct: noStop })), /sleeper cannot be restarted without systemd/)
    await ctx.pending.done('sleeper-restart')
    log.splice(0)
  })

  t.test('when the pid file names a process of another command, then it counts as not running', async (t) => {
    await writeFile(pidFile, `${process.pid}\n`)
    const check = context(dir, true)
    await ensureService(check, spec())
    t.match(check.changes, [/^start sleeper/])
  })
})

t.test('factCache', async (t) => {
  t.test('when a fact was gathered early and nothing changed since, then the early answer is used once; else it is gathered again', async (t) => {
    const facts = factCache()
    let gathered = 0
    const gather = async () => ++gathered
    facts.early('n', gather)
    facts.early('n', gather)
    t.equal(gathered, 1, 'started once')
    t.equal(await facts.get('n', gather, true), 1)
    t.equal(await facts.get('n', gather, true), 2, 'used once: a later ask gathers again')
    facts.early('n', gather)
    t.equal(await facts.get('n', gather, false), 4, 'a change since: gathered again')
  })

  t.test('when an early gathering fails, then only the step that asks sees the error', async (t) => {
    const facts = factCache()
    facts.early('broken', async () => { throw new Error('pm2 jlist failed') })
    await new Promise((resolve) => setImmediate(resolve))
    await t.rejects(facts.get('broken', async () => 'fresh', true), /pm2 jlist failed/)
    t.equal(await facts.get('broken', async () => 'fresh', true), 'fresh')
  })
})

t.test('when a config does not validate, then ensureFile and ensureSymlink put back what was there', { skip: process.getuid?.() !== 0 && 'needs root (chown)' }, async (t) => {
  const dir = await tempDir(t)
  const ctx = context(dir)
  const conf = join(dir, 'site.conf')
  const reject = async () => { throw Object.assign(new Error('failed'), { stderr: 'nginx: [emerg] unknown directive "bogus"' }) }
  await t.rejects(ensureFile(ctx, conf, 'bogus;\n', { mode: 0o644 }, reject), /site\.conf did not validate; removed again:\nnginx: \[emerg\] unknown directive "bogus"/)
  t.notOk(existsSync(conf), 'a new file that fails is removed')
  t.ok(await ensureFile(ctx, conf, 'good;\n', { mode: 0o644 }, async () => {}))
  await t.rejects(ensureFile(ctx, conf, 'bogus;\n', { mode: 0o644 }, reject), /the previous one is back in place/)
  t.equal(await readFile(conf, 'utf8'), 'good;\n')
  const link = join(dir, 'enabled.conf')
  await t.rejects(ensureSymlink(ctx, link, conf, reject), /enabled\.conf did not validate; removed again/)
  await t.rejects(lstat(link), /ENOENT/)
  t.ok(await ensureSymlink(ctx, link, conf, async () => {}))
})
