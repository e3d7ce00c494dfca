import { factCache } from '../../provision/lib/facts.ts'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { Context, Step } from '../../provision/lib/context.ts'
import { defaultPaths } from '../../provision/lib/paths.ts'
import { pendingActions } from '../../provision/lib/pending.ts'
import { describeFailure, exitCode, formatRecap, jsonReport, REPORT_VERSION, runSteps, type RunnerOptions } from '../../provision/lib/runner.ts'
import { resolveSettings } from '../../provision/lib/settings.ts'

function base(check = false): Omit<Context, 'note' | 'detail' | 'nothingChangedEarlier'> {
  return {
    check,
    verbose: false,
    paths: defaultPaths('/tmp/none'),
    appUser: 'root',
    settings: resolveSettings({}),
    runtime: { node: process.execPath, systemd: false, loginUsers: [] },
    pending: pendingActions('/tmp/none', true),
    facts: factCache(),
    shared: {},
  }
}

function output(options: Partial<RunnerOptions> = {}): RunnerOptions & { lines: string[] } {
  const lines: string[] = []
  return { check: false, quiet: false, verbose: false, write: (line) => lines.push(line), ...options, lines }
}

const step = (name: string, run: (ctx: Context) => Promise<void> | void): Step => ({ name, run: async (ctx) => run(ctx) })

// What zx throws for a failed command: a ProcessOutput with stderr and an exit code.
function commandError(stderr: string, exitCode = 1) {
  return Object.assign(new Error(stderr), { stderr, stdout: '', exitCode })
}

t.test('when steps change nothing, change something, or fail, then each gets its status and the run stops at the failure', async (t) => {
  const out = output({ lastCommand: () => "nginx -t -q" })
  const ran: string[] = []
  const results = await runSteps([
    step('ensureA', () => { ran.push('a') }),
    step('ensureB', (ctx) => { ran.push('b'); ctx.note('write /etc/b.conf') }),
    step('ensureC', () => { ran.push('c'); throw commandError('nginx: [emerg] unknown directive "bogus"') }),
    step('ensureD', () => { ran.push('d') }),
  ], base(), out)
  t.same(ran, ['a', 'b', 'c'])
  t.same(results.map((r) => r.status), ['ok', 'changed', 'failed', 'not run'])
  t.same(results[1]!.changes, ['write /etc/b.conf'])
  t.same(results[2]!.failure, { message: 'command failed with exit code 1', command: 'nginx -t -q', stderr: 'nginx: [emerg] unknown directive "bogus"' })
  t.equal(exitCode(results, false), 1)
  const text = out.lines.join('\n')
  t.match(text, /^ok +ensureA +\d+\.\d\ds$/m)
  t.match(text, /^changed +ensureB/m)
  t.match(text, /- write \/etc\/b\.conf/)
  t.match(text, /^failed +ensureC/m)
  t.match(text, /command: nginx -t -q/)
  t.match(text, /\| nginx: \[emerg\] unknown directive "bogus"/)
  t.match(formatRecap(results, false, 1234), 'recap: 1 ok, 1 changed, 1 failed, 1 not run in 1.23s')
})

t.test('when every step is ok or changed, then the exit code is 0', async (t) => {
  const results = await runSteps([step('ensureA', () => {}), step('ensureB', (ctx) => ctx.note('x'))], base(), output())
  t.equal(exitCode(results, false), 0)
})

t.test('when run under --check, then changes are drift, the exit code is 2, and 0 without drift', async (t) => {
  const out = output({ check: true })
  const drift = await runSteps([step('ensureA', () => {}), step('ensureB', (ctx) => ctx.note('restart nginx'))], base(true), out)
  t.equal(exitCode(drift, true), 2)
  t.match(out.lines.join('\n'), /^drift +ensureB/m)
  t.match(out.lines.join('\n'), /- would restart nginx/)
  t.match(formatRecap(drift, true, 10), /1 would change/)
  const clean = await runSteps([step('ensureA', () => {})], base(true), output({ check: true }))
  t.equal(exitCode(clean, true), 0)
  const failed = await runSteps([step('ensureA', () => { throw new Error('boom') })], base(true), output({ check: true }))
  t.equal(exitCode(failed, true), 1, 'a failure wins over drift')
})

t.test('when --quiet, then only failures are printed; with --verbose, step starts and details too', async (t) => {
  const quiet = output({ quiet: true })
  await runSteps([step('ensureA', (ctx) => ctx.note('x')), step('ensureB', () => { throw new Error('it broke') })], base(), quiet)
  t.notMatch(quiet.lines.join('\n'), /ensureA/)
  t.match(quiet.lines.join('\n'), /failed +ensureB[\s\S]*error: it broke/)
  const verbose = output({ verbose: true })
  await runSteps([step('ensureA', (ctx) => ctx.detail('looked at things'))], { ...base(), verbose: true }, verbose)
  t.match(verbose.lines[0], /^… +ensureA$/)
  t.match(verbose.lines.join('\n'), /· looked at things/)
  const normal = output()
  await runSteps([step('ensureA', (ctx) => ctx.detail('hidden'))], base(), normal)
  t.notMatch(normal.lines.join('\n'), /hidden/)
})

t.test('when a step runs long, then its name is shown while it runs', async (t) => {
  const out = output({ slowAfterMs: 10 })
  await runSteps([step('ensureSlow', () => sleep(60)), step('ensureFast', () => {})], base(), out)
  t.match(out.lines[0], /^… +ensureSlow \(running\)$/)
  t.notOk(out.lines.some((line) => /ensureFast \(running\)/.test(line)))
})

t.test('when a failing command printed nothing on stderr, then its stdout is shown instead; plain errors show their message', async (t) => {
  const failure = describeFailure(Object.assign(new Error(''), { stderr: '', stdout: 'line 1\nwhy it failed', exitCode: 2 }), 'npm ci')
  t.same(failure, { message: 'command failed with exit code 2', command: 'npm ci', stderr: 'line 1\nwhy it failed' })
  t.same(describeFailure(new Error('plain'), 'ignored'), { message: 'plain' })
  t.same(describeFailure('a string', undefined), { message: 'a string' })
  const long = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n')
  t.equal(describeFailure(commandError(long), undefined).stderr?.split('\n').length, 20, 'the last 20 lines')
})

t.test('when an error message has several lines, then each is printed indented under the step', async (t) => {
  const out = output()
  await runSteps([step('ensureA', () => { throw new Error('nginx -t rejected it:\n[emerg] bad\ntest failed') })], base(), out)
  t.same(out.lines.slice(1), ['         error: nginx -t rejected it:', '         | [emerg] bad', '         | test failed'])
})

const envDiff = '--- /etc/x.env\n+++ /etc/x.env\n@@ -1,1 +1,1 @@\n-LOG_LEVEL=info\n+LOG_LEVEL=debug\n'

t.test('when --diff is given, then each file change is followed by its diff; without it, the report is unchanged', async (t) => {
  const steps = [step('ensureEnv', (ctx) => { ctx.note('write /etc/x.env', envDiff); ctx.note('restart nginx') })]
  const plain = output({ check: true })
  await runSteps(steps, base(true), plain)
  t.same(plain.lines.slice(1), ['         - would write /etc/x.env', '         - would restart nginx'])
  const withDiff = output({ check: true, diff: true })
  await runSteps(steps, base(true), withDiff)
  t.same(withDiff.lines.slice(1), [
    '         - would write /etc/x.env',
    '           --- /etc/x.env',
    '           +++ /etc/x.env',
    '           @@ -1,1 +1,1 @@',
    '           -LOG_LEVEL=info',
    '           +LOG_LEVEL=debug',
    '         - would restart nginx',
  ])
})

t.test('when a run is reported as JSON, then one versioned document holds every step, its status, time, changes and diffs', async (t) => {
  const results = await runSteps([
    step('ensureA', () => {}),
    step('ensureEnv', (ctx) => { ctx.note('write /etc/x.env', envDiff); ctx.note('restart nginx') }),
    step('ensureC', () => { throw new Error('broken') }),
    step('ensureD', () => {}),
  ], base(true), output({ check: true }))
  const report = jsonReport(results, true, 1234.4)
  t.same(JSON.parse(JSON.stringify(report)), {
    version: REPORT_VERSION,
    check: true,
    exitCode: 1,
    ms: 1234,
    recap: { ok: 1, changed: 1, failed: 1, notRun: 1 },
    steps: [
      { name: 'ensureA', status: 'ok', ms: report.steps[0]!.ms, changes: [] },
      { name: 'ensureEnv', status: 'changed', ms: report.steps[1]!.ms, changes: [{ change: 'write /etc/x.env', diff: envDiff }, { change: 'restart nginx' }] },
      { name: 'ensureC', status: 'failed', ms: report.steps[2]!.ms, changes: [], failure: { message: 'broken' } },
      { name: 'ensureD', status: 'not run', ms: 0, changes: [] },
    ],
  })
})

t.test('when a verification step comes under --check, then it does not run and reports ok; on a real run it does', async (t) => {
  let ran = 0
  const smoke: Step = { name: 'ensureSmokeTest', verifies: true, run: async () => { ran++ } }
  const checked = await runSteps([smoke], base(true), output({ check: true }))
  t.same(checked.map((r) => r.status), ['ok'])
  t.equal(ran, 0)
  await runSteps([smoke], base(), output())
  t.equal(ran, 1)
})

t.test('when steps run, then each knows whether the ones before it changed nothing, and every step gathers its facts before the first runs', async (t) => {
  const order: string[] = []
  const seen: Record<string, boolean> = {}
  const watching = (name: string, change = false): Step => ({
    name,
    gatherEarly: () => { order.push(`gather ${name}`) },
    run: async (ctx) => {
      order.push(`run ${name}`)
      seen[name] = ctx.nothingChangedEarlier
      if (change) ctx.note('write x')
    },
  })
  await runSteps([watching('ensureA'), watching('ensureB', true), watching('ensureC')], base(), output())
  t.same(order, ['gather ensureA', 'gather ensureB', 'gather ensureC', 'run ensureA', 'run ensureB', 'run ensureC'])
  t.same(seen, { ensureA: false, ensureB: true, ensureC: false }, 'the first step has nothing before it; after a change, false')
})
