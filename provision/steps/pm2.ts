import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { appNamesOf, builtEntryOf, platform } from '../../services/shared/platform.ts'
import type { Context, RunContext, Step } from '../lib/context.ts'
import { appEnvironmentOf } from '../lib/settings.ts'
import { reloadAction } from './ensure-app-built.ts'
import { ensureDirectory, ensureFile, readTail } from '../lib/files.ts'
import { parseAppliedInstances, planLoyaltyInstances } from '../lib/loyalty-instances.ts'
import { PM2_UNIT } from '../lib/paths.ts'
import { ensureCommand, madeEarlier } from '../lib/command.ts'
import { appsNotOnline, parsePm2List, processesOf, type Pm2Process } from '../lib/pm2-list.ts'
import { ensureService, SYSTEMD_RELOAD } from '../lib/service.ts'
import { $ } from '../lib/shell.ts'
import { done, notYet, waitUntil } from '../lib/wait.ts'
import { readStamp, writeStamp } from '../lib/stamps.ts'
import { pathWith, runningPid } from '../lib/system.ts'
import { renderLogrotate } from '../render/logrotate.ts'
import { renderPm2Unit } from '../render/pm2-unit.ts'
import { renderPm2Wrapper } from '../render/pm2-wrapper.ts'
import { renderProfile } from '../render/profile.ts'

export const appNames = appNamesOf(platform)
const LOYALTY = 'loyalty'
const LOYALTY_STAMP = 'loyalty-instances'
const PM2_LIST = 'pm2-list'

const pm2Bin = (ctx: RunContext) => join(ctx.paths.appDir, 'node_modules', 'pm2', 'bin', 'pm2')

/**
 * The ONE environment the PM2 CLI runs with. PM2 copies its CLI's environment into each app's
 * environment and into its saved list (dump.pm2), so it holds no secret: the services read those
 * from the env file themselves (node --env-file, see ecosystem.config.cjs).
 */
export function pm2Environment(ctx: RunContext): Record<string, string> {
  const { settings, paths } = ctx
  const env: Record<string, string> = {
    PATH: pathWith(dirname(ctx.runtime.node)),
    HOME: paths.homeDir,
    PM2_HOME: paths.pm2Home,
    YOYO_ENV_FILE: paths.envFile,
    // Each app's port setting (AUTH_PORT, ...) and instance setting (LOYALTY_INSTANCES): the ecosystem reads them.
    ...appEnvironmentOf(platform, settings),
  }
  if (settings.service.SHUTDOWN_TIMEOUT_MS !== undefined) env.SHUTDOWN_TIMEOUT_MS = settings.service.SHUTDOWN_TIMEOUT_MS
  return env
}

/** The pm2 command as every user runs it (the wrapper switches root to the app user). */
function pm2(ctx: RunContext, args: string[]) {
  return $({ env: pm2Environment(ctx), cwd: ctx.paths.appDir })`${ctx.paths.pm2Wrapper} ${args}`
}

/**
 * Everything PM2 needs around it: its home shared with the app group (setgid 2770, so files there keep
 * the group), the `pm2` wrapper on PATH, the profile script, log rotation, and under systemd the unit
 * that brings PM2 and the saved apps back at boot.
 */
export const ensurePm2Configured: Step = {
  name: 'ensurePm2Configured',
  async run(ctx) {
    const { paths, appUser: user } = ctx
    const node = ctx.runtime.node
    await ensureDirectory(ctx, paths.pm2Home, { mode: 0o2770, owner: user })
    for (const sub of ['logs', 'pids']) await ensureDirectory(ctx, join(paths.pm2Home, sub), { mode: 0o2770, owner: user })
    await ensureFile(ctx, paths.pm2Wrapper, renderPm2Wrapper({ user, pm2Home: paths.pm2Home, node, pm2Bin: pm2Bin(ctx), unit: PM2_UNIT }), { mode: 0o755 })
    await ensureFile(ctx, paths.profileScript, renderProfile({ pm2Home: paths.pm2Home, appDir: paths.appDir }), { mode: 0o644 })
    await ensureFile(ctx, paths.logrotateConfig, renderLogrotate({ pm2Home: paths.pm2Home, user }), { mode: 0o644 })
    if (!ctx.runtime.systemd) return
    const unit = renderPm2Unit({ user, pm2Home: paths.pm2Home, node, pm2Bin: pm2Bin(ctx), path: pathWith(dirname(node)) })
    // Enabled and started by ensurePm2Running (the service resource), after systemd has read it again.
    if (await ensureFile(ctx, paths.systemdUnit, unit, { mode: 0o644 })) await ctx.pending.add(SYSTEMD_RELOAD)
  },
}

/** PM2's process list, read with `pm2 jlist` (quiet even under --verbose: the list is long). */
async function processList(ctx: RunContext): Promise<Pm2Process[]> {
  const output = await pm2(ctx, ['jlist']).quiet()
  const list = parsePm2List(output.stdout)
  if (list === undefined) throw new Error(`pm2 jlist printed no process list: ${output.stdout.slice(0, 200)}`)
  return list
}

const countOf = (list: Pm2Process[], name: string) => processesOf(list, name).length

/**
 * The apps PM2 runs from another entry than the ecosystem's (an older release's dist/<source>/main.js):
 * `pm2 reload` keeps the script a process was started with, so these are deleted and started again.
 */
function entryMoved(ctx: Context, list: Pm2Process[]): string[] {
  return appNames.filter((app) => list.some((p) => p.name === app && p.pm2_env?.pm_exec_path !== undefined && p.pm2_env.pm_exec_path !== join(ctx.paths.appDir, builtEntryOf(platform, app))))
}

async function errorLogTail(ctx: Context, name: string): Promise<string> {
  return readTail(join(ctx.paths.pm2Home, 'logs', `${name}-error.log`), 15)
}

/** Every app online (given `loyalty`, that many loyalty processes); fails with the error logs of those that are not. */
async function waitUntilOnline(ctx: Context, loyalty?: number): Promise<Pm2Process[]> {
  const counts: Record<string, number> = loyalty === undefined ? {} : { [LOYALTY]: loyalty }
  let bad = appNames
  try {
    return await waitUntil('apps not online under PM2', async () => {
      const list = await processList(ctx)
      bad = appsNotOnline(list, appNames, counts)
      return bad.length === 0 ? done(list) : notYet(bad.join(', '))
    }, { timeoutMs: 20_000, intervalMs: 500 })
  } catch (err) {
    const logs = await Promise.all(bad.map(async (name) => `${name}-error.log:\n${await errorLogTail(ctx, name)}`))
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${logs.join('\n')}`)
  }
}

/**
 * Hash of what PM2 was started from: the ecosystem file and the environment it was loaded with, except
 * LOYALTY_INSTANCES: a reload does not rescale, so a new count is applied by `pm2 scale` instead.
 */
async function appsFingerprint(ctx: Context): Promise<string> {
  // The ecosystem reads platform.json: both are what PM2 was started from.
  const ecosystem = await readFile(join(ctx.paths.appDir, 'ecosystem.config.cjs'), 'utf8').catch(() => '')
  const manifest = await readFile(join(ctx.paths.appDir, 'platform.json'), 'utf8').catch(() => '')
  const { LOYALTY_INSTANCES: _applied, ...environment } = pm2Environment(ctx)
  return createHash('sha256').update(ecosystem).update(manifest).update(JSON.stringify(environment)).digest('hex')
}

/**
 * Which apps to (re)start or reload, and why: every app when the ecosystem or the settings PM2 runs
 * with changed, or a change is owed to them all; else the apps that are not online and those a new
 * build or a changed setting of theirs is owed to (ensureAppBuilt, ensureEnvironmentFile).
 */
async function reloadPlan(ctx: Context, missing: string[], fingerprint: string): Promise<{ apps: string[] | 'all'; reasons: string[] }> {
  const stopped = missing.length > 0 ? [`not online: ${missing.join(', ')}`] : []
  const everyApp = [
    ...((await ctx.pending.has(reloadAction())) ? ['new build or env file for every app'] : []),
    ...((await readStamp(ctx.paths.stateDir, 'pm2-apps')) !== fingerprint ? ['ecosystem, manifest or settings changed'] : []),
  ]
  if (everyApp.length > 0) return { apps: 'all', reasons: [...stopped, ...everyApp] }
  const owed: string[] = []
  for (const app of appNames) if (await ctx.pending.has(reloadAction(app))) owed.push(app)
  const apps = appNames.filter((app) => missing.includes(app) || owed.includes(app))
  return { apps, reasons: [...stopped, ...(owed.length > 0 ? [`new build or settings of ${owed.join(', ')}`] : [])] }
}

/**
 * LOYALTY_INSTANCES applied when it differs from the last applied value (see lib/loyalty-instances.ts);
 * a count scaled by hand in between is left alone. `running` is the loyalty processes PM2 runs now
 * (under --check: would run once started).
 */
async function ensureLoyaltyInstances(ctx: Context, running: number): Promise<void> {
  const wanted = ctx.settings.loyaltyInstances
  const applied = parseAppliedInstances(await readStamp(ctx.paths.stateDir, LOYALTY_STAMP))
  const plan = planLoyaltyInstances({ wanted, applied, running })
  await ensureCommand(ctx, {
    ...(plan.change === undefined ? {} : { change: plan.change }),
    holds: () => !plan.stamp,
    run: async () => {
      if (plan.scaleTo !== undefined) {
        await pm2(ctx, ['scale', LOYALTY, String(plan.scaleTo)])
        await waitUntilOnline(ctx, plan.scaleTo)
      }
      if (plan.save) await pm2(ctx, ['save', '--force'])
      await writeStamp(ctx.paths.stateDir, LOYALTY_STAMP, String(wanted))
    },
  })
}

/**
 * The platform's apps online under the one PM2 daemon (user yoyo). `pm2 startOrReload --update-env` runs
 * only when the build, the env file or the ecosystem changed, or an app is not online; it reloads the
 * cluster apps one process at a time (no downtime) and keeps a scaled-out instance count. Then
 * `pm2 save`, so a reboot brings back the same list. A changed LOYALTY_INSTANCES is applied with
 * `pm2 scale` (a reload would not), and only then: `pm2 scale loyalty N` by hand is the user's.
 */
/** PM2's process list while its daemon runs (`pm2 jlist` would start one); [] when it does not. */
async function runningProcesses(ctx: RunContext): Promise<Pm2Process[]> {
  return (await runningPid(join(ctx.paths.pm2Home, 'pm2.pid'))) === undefined ? [] : processList(ctx)
}

export const ensurePm2Running: Step = {
  name: 'ensurePm2Running',
  // The slowest probe of a run that changes nothing (PM2's CLI starts a Node.js): read while other steps run.
  gatherEarly(ctx) {
    if (existsSync(pm2Bin(ctx)) && existsSync(ctx.paths.pm2Wrapper)) ctx.facts.early(PM2_LIST, () => runningProcesses(ctx))
  },
  async run(ctx) {
    const pidFile = join(ctx.paths.pm2Home, 'pm2.pid')
    const installed = existsSync(pm2Bin(ctx)) && existsSync(ctx.paths.pm2Wrapper)
    if (!madeEarlier(ctx, installed, 'start PM2 and the apps', `PM2 is not installed (${pm2Bin(ctx)}): run ensureAppBuilt and ensurePm2Configured first`)) return
    // The daemon; at boot (or started here without systemd) it brings back the saved list, with its
    // scaled instance counts: what the unit's ExecStart does.
    const started = await ensureService(ctx, {
      name: PM2_UNIT,
      direct: {
        pidFile,
        start: async () => {
          if (existsSync(join(ctx.paths.pm2Home, 'dump.pm2'))) await pm2(ctx, ['resurrect'])
        },
      },
    })
    // The early list stays true whatever the steps before changed: none of them starts, stops or reloads a
    // PM2 process (a new build or env file is owed to the apps as a pending reload, not read from the list),
    // so a deploy does not wait for a second `pm2 jlist`. Only a daemon started just now makes it stale.
    let list = await ctx.facts.get(PM2_LIST, () => runningProcesses(ctx), !started)
    const moved = entryMoved(ctx, list)
    const fingerprint = await appsFingerprint(ctx)
    const plan = await reloadPlan(ctx, [...new Set([...appsNotOnline(list, appNames), ...moved])], fingerprint)
    const apps = plan.apps === 'all' ? appNames : plan.apps
    // Only the apps a change is owed to: the others keep serving, untouched.
    const only = plan.apps === 'all' ? [] : ['--only', apps.join(',')]
    await ensureCommand(ctx, {
      change: `pm2 startOrReload ecosystem.config.cjs --update-env${only.length > 0 ? ` --only ${only[1]}` : ''} (${plan.reasons.join('; ')})`,
      holds: () => apps.length === 0,
      run: async () => {
        ctx.shared.reloaded = apps
        // Started afresh from the new entry, with as many processes as before (a scale by hand is kept).
        const before = Object.fromEntries(moved.map((app) => [app, countOf(list, app)]))
        for (const app of moved) await pm2(ctx, ['delete', app])
        await pm2(ctx, ['startOrReload', join(ctx.paths.appDir, 'ecosystem.config.cjs'), '--update-env', ...only])
        list = await waitUntilOnline(ctx)
        for (const app of moved) {
          if (countOf(list, app) === before[app] || platform.apps[app]!.process.mode !== 'cluster') continue
          await pm2(ctx, ['scale', app, String(before[app])])
          list = await waitUntilOnline(ctx, app === LOYALTY ? before[app] : undefined)
        }
        await pm2(ctx, ['save', '--force'])
        await writeStamp(ctx.paths.stateDir, 'pm2-apps', fingerprint)
        await ctx.pending.done(reloadAction())
        for (const app of appNames) await ctx.pending.done(reloadAction(app))
      },
    })
    // With no loyalty process yet, the start above gives (under --check: would give) the ecosystem's count.
    await ensureLoyaltyInstances(ctx, countOf(list, LOYALTY) || ctx.settings.loyaltyInstances)
  },
}

/**
 * After a failed deploy: the apps it reloaded started again from the release put back in place (see
 * lib/release.ts), online and saved. Returns each one's error-log tail from the failed deploy.
 */
export async function reloadRestoredApps(ctx: Context, apps: string[]): Promise<string> {
  const tails = await Promise.all(apps.map(async (name) => `${name}-error.log (last lines):\n${await errorLogTail(ctx, name)}`))
  await pm2(ctx, ['startOrReload', join(ctx.paths.appDir, 'ecosystem.config.cjs'), '--update-env', '--only', apps.join(',')])
  await waitUntilOnline(ctx)
  await pm2(ctx, ['save', '--force'])
  for (const app of appNames) await ctx.pending.done(reloadAction(app))
  await ctx.pending.done(reloadAction())
  return tails.join('\n')
}
