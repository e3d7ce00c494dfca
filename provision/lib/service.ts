import type { Context } from './context.ts'
import { $ } from './shell.ts'
import { runningPid } from './system.ts'

/** A daemon the provisioner runs itself when systemd does not (containers, CI): found by its pid file. */
export interface DirectControl {
  pidFile: string
  /** The start of the process's command name (/proc/<pid>/comm), so a reused pid is not taken for it. */
  command?: string
  start(): Promise<unknown>
  /** Stops the running process (for a restart). */
  stop?(pid: number): Promise<unknown>
  /** Makes it read its config again, without a restart. */
  reload?(pid: number): Promise<unknown>
}

export interface ServiceSpec {
  /** The systemd unit (redis-server, nginx, yoyo-pm2); also the name in the report. */
  name: string
  direct: DirectControl
  /** The pending action (lib/pending.ts) a config change leaves for this service: restart or reload it. */
  restartWhen?: string
  reloadWhen?: string
  /** Checks the config before it is (re)loaded: nginx -t. */
  validate?(): Promise<unknown>
  /** Runs before a restart (Redis: keep its data). */
  beforeRestart?(): Promise<unknown>
  /** Waits until it serves (after a start, a restart or a reload; also on a run that changed nothing, as proof). */
  ready?(): Promise<unknown>
}

/** The pending action that says a unit file changed: systemd must read its units again before using it. */
export const SYSTEMD_RELOAD = 'systemd-daemon-reload'

/** What systemd says of a unit, in one call: enabled at boot, running now. */
async function unitState(unit: string): Promise<{ enabled: boolean; active: boolean }> {
  const shown = await $({ nothrow: true })`systemctl show --property=UnitFileState,ActiveState ${unit}`
  const values = Object.fromEntries(shown.stdout.trim().split('\n').map((line) => line.split('=', 2) as [string, string]))
  return { enabled: values.UnitFileState === 'enabled', active: values.ActiveState === 'active' }
}

/**
 * The service resource: a daemon enabled at boot and running (systemd), or running (no systemd: started
 * directly). A restart or reload happens only when one is owed by a config change (spec.restartWhen /
 * reloadWhen, left by the step that wrote the config), after the config is validated. Under --check it
 * says what it would do and does nothing. Once it has acted, it waits for the service to be ready, and
 * clears what was owed. Returns whether it acted (under --check: would act).
 */
export async function ensureService(ctx: Context, spec: ServiceSpec): Promise<boolean> {
  const restart = spec.restartWhen !== undefined && (await ctx.pending.has(spec.restartWhen))
  const reload = !restart && spec.reloadWhen !== undefined && (await ctx.pending.has(spec.reloadWhen))
  const actions = ctx.runtime.systemd ? await systemdActions(ctx, spec, restart, reload) : await directActions(ctx, spec, restart, reload)
  if (ctx.check) return actions.length > 0
  if (actions.length > 0 && spec.validate !== undefined) await spec.validate()
  for (const action of actions) await action()
  await spec.ready?.()
  for (const owed of [spec.restartWhen, spec.reloadWhen]) if (owed !== undefined) await ctx.pending.done(owed)
  return actions.length > 0
}

type Action = () => Promise<unknown>

async function systemdActions(ctx: Context, spec: ServiceSpec, restart: boolean, reload: boolean): Promise<Action[]> {
  const unit = spec.name
  const actions: Action[] = []
  if (await ctx.pending.has(SYSTEMD_RELOAD)) {
    ctx.note('systemctl daemon-reload (a unit file changed)')
    actions.push(async () => {
      await $`systemctl daemon-reload`
      await ctx.pending.done(SYSTEMD_RELOAD)
    })
  }
  const { enabled, active } = await unitState(unit)
  if (!enabled) {
    ctx.note(`enable ${unit}`)
    actions.push(() => $`systemctl enable ${unit}`)
  }
  if (!active) {
    ctx.note(`start ${unit}`)
    actions.push(() => $`systemctl start ${unit}`)
  } else if (restart) {
    ctx.note(`restart ${unit} (config changed)`)
    actions.push(async () => {
      await spec.beforeRestart?.()
      await $`systemctl restart ${unit}`
    })
  } else if (reload) {
    ctx.note(`reload ${unit} (config changed)`)
    actions.push(() => $`systemctl reload ${unit}`)
  }
  return actions
}

async function directActions(ctx: Context, spec: ServiceSpec, restart: boolean, reload: boolean): Promise<Action[]> {
  const { direct } = spec
  const pid = await runningPid(direct.pidFile, direct.command)
  if (pid === undefined) {
    ctx.note(`start ${spec.name} (no systemd: started directly, not brought back after a reboot)`)
    return [() => direct.start()]
  }
  if (restart) {
    ctx.note(`restart ${spec.name} (config changed)`)
    return [async () => {
      await spec.beforeRestart?.()
      if (direct.stop === undefined) throw new Error(`${spec.name} cannot be restarted without systemd`)
      await direct.stop(pid)
      await direct.start()
    }]
  }
  if (reload) {
    ctx.note(`reload ${spec.name} (config changed)`)
    return [async () => {
      if (direct.reload === undefined) throw new Error(`${spec.name} cannot be reloaded without systemd`)
      await direct.reload(pid)
    }]
  }
  return []
}
