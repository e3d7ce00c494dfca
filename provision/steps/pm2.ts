import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { appNamesOf, builtEntryOf, platform } from '../../services/shared/platform.ts'
import type { Context, Step } from '../lib/context.ts'
import { appEnvironmentOf } from '../lib/settings.ts'
import { reloadAction } from './ensure-app-built.ts'
import { ensureDirectory, ensureFile, readTail } from '../lib/files.ts'
import { parseAppliedInstances, planLoyaltyInstances } from '../lib/loyalty-instances.ts'
import { PM2_UNIT } from '../lib/paths.ts'
import { $ } from '../lib/shell.ts'
import { readStamp, writeStamp } from '../lib/stamps.ts'
import { pathWith, runningPid } from '../lib/system.ts'
import { renderLogrotate } from '../render/logrotate.ts'
import { renderPm2Unit } from '../render/pm2-unit.ts'
import { renderPm2Wrapper } from '../render/pm2-wrapper.ts'
import { renderProfile } from '../render/profile.ts'

export const appNames = appNamesOf(platform)
const LOYALTY = 'loyalty'
const LOYALTY_STAMP = 'loyalty-instances'

const pm2Bin = (ctx: Context) => join(ctx.paths.appDir, 'node_modules', 'pm2', 'bin', 'pm2')

/**
 * The ONE environment the PM2 CLI runs with. PM2 copies its CLI's environment into each app's
 * environment and into its saved list (dump.pm2), so it holds no secret: the services read those
 * from the env file themselves (node --env-file, see ecosystem.config.cjs).
 */
export function pm2Environment(ctx: Context): Record<string, string> {
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
function pm2(ctx: Context, args: string[]) {
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
    if ((await ensureFile(ctx, paths.systemdUnit, unit, { mode: 0o644 })) && !ctx.check) await $`systemctl daemon-reload`
    const enabled = (await $({ nothrow: true })`systemctl is-enabled ${PM2_UNIT}`).stdout.trim() === 'enabled'
    if (!enabled) {
      ctx.note(`enable ${PM2_UNIT}`)
      if (!ctx.check) await $`systemctl enable ${PM2_UNIT}`
    }
  },
}

interface Pm2Process {
  name: string
  pm_id: number
  pm2_env: { status: string; restart_time?: number; pm_exec_path?: string }
}

async function processList(ctx: Context): Promise<Pm2Process[]> {
  // Quiet even under --verbose: the list is long (and holds nothing secret).
  const output = await pm2(ctx, ['jlist']).quiet()
  // pm2 may print a banner before the JSON on its first start.
  const json = output.stdout.slice(output.stdout.indexOf('['))
  return JSON.parse(json) as Pm2Process[]
}

const countOf = (list: Pm2Process[], name: string) => list.filter((p) => p.name === name).length

/** The apps that are missing or have a process not online (or, given `loyalty`, not that many loyalty processes). */
function unhealthy(list: Pm2Process[], loyalty?: number): string[] {
  return appNames.filter((name) => {
    const processes = list.filter((p) => p.name === name)
    if (name === LOYALTY && loyalty !== undefined && processes.length !== loyalty) return true
    return processes.length === 0 || processes.some((p) => p.pm2_env.status !== 'online')
  })
}

/**
 * The apps PM2 runs from another entry than the ecosystem's (an older release's dist/<source>/main.js):
 * `pm2 reload` keeps the script a process was started with, so these are deleted and started again.
 */
function entryMoved(ctx: Context, list: Pm2Process[]): string[] {
  return appNames.filter((app) => list.some((p) => p.name === app && p.pm2_env.pm_exec_path !== undefined && p.pm2_env.pm_exec_path !== join(ctx.paths.appDir, builtEntryOf(platform, app))))
}

async function errorLogTail(ctx: Context, name: string): Promise<string> {
  return readTail(join(ctx.paths.pm2Home, 'logs', `${name}-error.log`), 15)
}

async function waitUntilOnline(ctx: Context, loyalty?: number): Promise<Pm2Process[]> {
  const deadline = Date.now() + 20_000
  let bad = appNames
  while (Date.now() < deadline) {
    const list = await processList(ctx)
    bad = unhealthy(list, loyalty)
    if (bad.length === 0) return list
    await sleep(500)
  }
  const logs = await Promise.all(bad.map(async (name) => `${name}-error.log:\n${await errorLogTail(ctx, name)}`))
  throw new Error(`not online under PM2: ${bad.join(', ')}\n${logs.join('\n')}`)
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
  if (plan.change !== undefined) ctx.note(plan.change)
  if (ctx.check) return
  if (plan.scaleTo !== undefined) {
    await pm2(ctx, ['scale', LOYALTY, String(plan.scaleTo)])
    await waitUntilOnline(ctx, plan.scaleTo)
  }
  if (plan.save) await pm2(ctx, ['save', '--force'])
  if (plan.stamp) await writeStamp(ctx.paths.stateDir, LOYALTY_STAMP, String(wanted))
}

/**
 * The platform's apps online under the one PM2 daemon (user yoyo). `pm2 startOrReload --update-env` runs
 * only when the build, the env file or the ecosystem changed, or an app is not online; it reloads the
 * cluster apps one process at a time (no downtime) and keeps a scaled-out instance count. Then
 * `pm2 save`, so a reboot brings back the same list. A changed LOYALTY_INSTANCES is applied with
 * `pm2 scale` (a reload would not), and only then: `pm2 scale loyalty N` by hand is the user's.
 */
export const ensurePm2Running: Step = {
  name: 'ensurePm2Running',
  async run(ctx) {
    if (!existsSync(pm2Bin(ctx)) || !existsSync(ctx.paths.pm2Wrapper)) {
      ctx.note('start PM2 and the apps')
      if (ctx.check) return
      throw new Error(`PM2 is not installed (${pm2Bin(ctx)}): run ensureAppBuilt and ensurePm2Configured first`)
    }
    if (ctx.runtime.systemd) {
      const active = (await $({ nothrow: true })`systemctl is-active ${PM2_UNIT}`).exitCode === 0
      if (!active) {
        ctx.note(`start ${PM2_UNIT} (PM2 resurrects the saved apps)`)
        if (!ctx.check) await $`systemctl start ${PM2_UNIT}`
      }
    } else if ((await runningPid(join(ctx.paths.pm2Home, 'pm2.pid'))) === undefined) {
      // What the unit's ExecStart does at boot: bring back the saved list (with its scaled instance counts).
      const saved = existsSync(join(ctx.paths.pm2Home, 'dump.pm2'))
      ctx.note(`start the PM2 daemon${saved ? ' and resurrect the saved apps' : ''} (no systemd: it does not come back after a reboot)`)
      if (!ctx.check && saved) await pm2(ctx, ['resurrect'])
    }
    const daemonUp = (await runningPid(join(ctx.paths.pm2Home, 'pm2.pid'))) !== undefined
    let list = daemonUp ? await processList(ctx) : []
    const moved = entryMoved(ctx, list)
    const missing = [...new Set([...unhealthy(list), ...moved])]
    const fingerprint = await appsFingerprint(ctx)
    const plan = await reloadPlan(ctx, missing, fingerprint)
    if (plan.apps === 'all' || plan.apps.length > 0) {
      // Only the apps a change is owed to: the others keep serving, untouched.
      const only = plan.apps === 'all' ? [] : ['--only', plan.apps.join(',')]
      ctx.note(`pm2 startOrReload ecosystem.config.cjs --update-env${only.length > 0 ? ` --only ${only[1]}` : ''} (${plan.reasons.join('; ')})`)
      if (!ctx.check) {
        ctx.shared.reloaded = plan.apps === 'all' ? appNames : plan.apps
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
      }
    }
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
