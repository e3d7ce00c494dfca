// The provisioner: `sudo ./provision/bootstrap.sh [options]` (bootstrap.sh makes sure Node.js >= 24 and
// zx are there, then runs this file). Locally on an older Node.js: `sudo node --import tsx provision/main.ts`.
// Each step ensures one piece of state, checking before it changes anything; see steps/index.ts.
import { join } from 'node:path'
import { readAccounts } from './lib/accounts.ts'
import { parseOptions, selectSteps, usage, UsageError } from './lib/args.ts'
import { factCache } from './lib/facts.ts'
import { readIfExists } from './lib/files.ts'
import { APP_USER, defaultPaths } from './lib/paths.ts'
import { pendingActions } from './lib/pending.ts'
import { planDifferences, readPlan, writePlan } from './lib/plan.ts'
import type { Context, Step } from './lib/context.ts'
import { restorePreviousRelease } from './lib/release.ts'
import { exitCode, formatRecap, jsonReport, runSteps, type StepResult } from './lib/runner.ts'
import { parseDotenv, resolveSettings } from './lib/settings.ts'
import { configureShell, getLastCommand } from './lib/shell.ts'
import { collectStatus, formatStatus } from './lib/status.ts'
import { hasSystemd, loginUsers } from './lib/system.ts'
import { ensureSmokeTest } from './steps/ensure-smoke-test.ts'
import { steps } from './steps/index.ts'
import { appNames, reloadRestoredApps } from './steps/pm2.ts'
import { statusUrls } from './steps/status-command.ts'

/** A deploy that fails one of these has its previous release put back. */
const ROLLBACK_AFTER = ['ensurePm2Running', 'ensureSmokeTest']

/**
 * Goes back to the release this run replaced: its files and build stamps, the apps the deploy reloaded
 * started again from them, and the smoke test run again to show the platform healthy. The run still
 * exits 1: what was asked for did not happen.
 */
async function rollBack(failedStep: string, ctx: Context, smokeTest: (check: boolean) => Promise<StepResult[]>, report: (line: string) => void): Promise<void> {
  const apps = ctx.shared.reloaded ?? appNames
  report(`\nrollback: ${failedStep} failed after the deploy; putting the previous release back (${apps.join(', ')})`)
  try {
    await restorePreviousRelease(ctx)
    const tails = await reloadRestoredApps(ctx, apps)
    const [smoke] = await smokeTest(false)
    report(smoke?.status === 'failed' ? 'rollback: the previous release is back, but its smoke test fails too' : 'rollback: the previous release is back and healthy')
    report(`What the failed release logged:\n${tails}`)
  } catch (err) {
    report(`rollback failed: ${err instanceof Error ? err.message : String(err)}`)
  }
}

const started = performance.now()
// The caller's NODE_OPTIONS (a test runner's --import loader) is no business of the commands we run;
// bootstrap.sh already clears it, this covers running main.ts directly. (The commands that run Node.js,
// npm, pm2 and the seed, get an environment of their own anyway.)
delete process.env.NODE_OPTIONS
// bootstrap.sh's compile cache is the provisioner's own (root's): the Node.js processes it starts keep out of it.
delete process.env.NODE_COMPILE_CACHE
const write = (line: string) => process.stdout.write(`${line}\n`)

let code = 1
try {
  const options = parseOptions(process.argv.slice(2), steps.map((step) => step.name))
  if (options.help) {
    write(usage)
    code = 0
  } else {
    if (process.getuid?.() !== 0) throw new Error('run me as root: sudo ./provision/bootstrap.sh')
    configureShell(options.verbose)
    const paths = defaultPaths()
    const dotenv = await readIfExists(join(paths.sourceDir, '.env'))
    const settings = resolveSettings(process.env, dotenv === undefined ? {} : parseDotenv(dotenv))
    const runtime = {
      node: process.execPath,
      systemd: await hasSystemd(),
      loginUsers: loginUsers(process.env, await readAccounts()),
    }
    // With --json stdout carries the JSON document alone.
    const report = options.json ? () => {} : write
    if (!options.quiet && !options.json) {
      write(`yoyo-platform provisioner${options.check ? ' (--check: changing nothing)' : ''}: Node.js ${process.version}, ` +
        `${runtime.systemd ? 'systemd' : 'no systemd (services started directly)'}, ${paths.sourceDir} → ${paths.appDir}`)
    }
    const baseContext = (check: boolean): Omit<Context, 'note' | 'detail' | 'nothingChangedEarlier'> => ({
      check,
      verbose: options.verbose,
      paths,
      appUser: APP_USER,
      settings,
      runtime,
      pending: pendingActions(join(paths.stateDir, 'pending'), check),
      facts: factCache(),
      shared: {},
    })
    let lastRun = baseContext(false)
    const run = (check: boolean, selection: { only: string[]; skip: string[] }, out: (line: string) => void, only: Step[] = steps) => {
      lastRun = baseContext(check)
      return runSteps(selectSteps(only, selection), lastRun, { check, quiet: options.quiet, verbose: options.verbose && !options.json, diff: options.diff, write: out, lastCommand: getLastCommand })
    }

    let selection = { only: options.only, skip: options.skip }
    let moved: string[] = []
    if (options.apply !== undefined) {
      // Check first, silently: the run goes ahead only if it would do exactly what was planned.
      const plan = await readPlan(options.apply)
      selection = { only: plan.only, skip: plan.skip }
      const now = jsonReport(await run(true, selection, () => {}), true, 0)
      moved = planDifferences(plan.report, now)
    }
    if (moved.length > 0) {
      process.stderr.write(`provision: ${options.apply} is stale: the machine is no longer as it was when the plan was made (nothing was changed):\n${moved.map((line) => `  - ${line}`).join('\n')}\nMake a new plan (--plan) and review it.\n`)
      code = 3
    } else {
      const results = await run(options.check, selection, report)
      report(formatRecap(results, options.check, performance.now() - started))
      code = exitCode(results, options.check)
      const failed = results.find((result) => result.status === 'failed')
      if (failed !== undefined && ROLLBACK_AFTER.includes(failed.name) && lastRun.shared.previousRelease === true) {
        await rollBack(failed.name, { ...lastRun, note: () => {}, detail: () => {}, nothingChangedEarlier: false }, (check) => run(check, { only: [], skip: [] }, report, [ensureSmokeTest]), report)
      }
      if (options.plan !== undefined) {
        await writePlan(options.plan, { ...selection, report: jsonReport(results, true, performance.now() - started) })
        report(`plan written to ${options.plan}: review it, then --apply ${options.plan}`)
      }
      if (options.json) write(JSON.stringify(jsonReport(results, options.check, performance.now() - started), null, 2))
    }
    if (code === 0 && !options.check && !options.quiet && !options.json) {
      // What `yoyo-status` says, and what to try first.
      const status = await collectStatus({ ...statusUrls(settings), envFile: paths.envFile, pm2: paths.pm2Wrapper, apps: appNames, dashboardUser: 'admin' })
      const port = `:${settings.hostPort}`
      write(`\n${formatStatus(status)}
Try it (HTTPie; \`${paths.statusCommand}\` shows the above again):
  TOKEN=$(http --form POST ${port}/authentication/token username=alice password=password | jq -r .token)
  http --form POST ${port}/transactions token=$TOKEN amount=2000 currency=GBP
  http ${port}/loyalty/me "Authorization:Bearer $TOKEN"`)
    }
  }
} catch (err) {
  // The one exit path for anything that is not a step's failure (bad usage, bad settings, not root).
  process.stderr.write(`provision: ${err instanceof Error ? err.message : String(err)}\n`)
  if (err instanceof UsageError) process.stderr.write('(--help lists the options)\n')
  code = err instanceof UsageError ? 64 : 1
}
// stdout may be a pipe (--json read by a script): exiting before it is flushed would cut the document short.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()))
process.exit(code)
