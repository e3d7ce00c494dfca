import { writeFile, rm } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { renderRouterConfig } from '../../nginx/render.ts'
import type { Context, Step } from '../lib/context.ts'
import type { Paths } from '../lib/paths.ts'
import type { Settings } from '../lib/settings.ts'
import { ensureAbsent, ensureFile, ensureSymlink, readIfExists } from '../lib/files.ts'
import { $ } from '../lib/shell.ts'
import { runningPid } from '../lib/system.ts'

const SERVICE = 'nginx'
const RELOAD = 'nginx-reload'

/** The router site for these settings and paths (nginx/yoyo-platform.conf is it for the defaults). */
export function routerConfigOf(settings: Settings, paths: Paths): string {
  return renderRouterConfig({
    listen: settings.nginxPort,
    upstreams: Object.fromEntries(Object.entries(settings.ports).map(([app, port]) => [app, `127.0.0.1:${port}`])),
    staticRoots: { docs: paths.docsDir },
    accessLog: paths.nginxAccessLog,
  })
}

export const routerConfig = (ctx: Context): string => routerConfigOf(ctx.settings, ctx.paths)

/**
 * The router site (rendered from nginx/routes.ts) enabled and the package's default site removed. The
 * whole config is validated with `nginx -t` before anything reloads: a config that fails is put back
 * as it was, so the running nginx and the next boot keep the last good one.
 */
export const ensureNginxConfigured: Step = {
  name: 'ensureNginxConfigured',
  async run(ctx) {
    const { paths } = ctx
    const previous = await readIfExists(paths.nginxSite)
    let changed = await ensureFile(ctx, paths.nginxSite, routerConfig(ctx), { mode: 0o644 })
    changed = (await ensureSymlink(ctx, paths.nginxSiteLink, paths.nginxSite)) || changed
    changed = (await ensureAbsent(ctx, paths.nginxDefaultSite)) || changed
    if (!changed || ctx.check) {
      if (changed) await ctx.pending.add(RELOAD)
      return
    }
    const test = await $({ nothrow: true })`nginx -t -q`
    if (test.exitCode !== 0) {
      if (previous === undefined) {
        await rm(paths.nginxSiteLink, { force: true })
        await rm(paths.nginxSite, { force: true })
      } else {
        await writeFile(paths.nginxSite, previous)
      }
      throw new Error(`nginx -t rejected the new config (the previous one is back in place):\n${test.stderr.trim()}`)
    }
    await ctx.pending.add(RELOAD)
  },
}

/** Answers our JSON 404 on an unknown path: proof that it is our config serving the port. */
async function waitForRouter(port: number): Promise<void> {
  const deadline = Date.now() + 10_000
  let last = 'no answer'
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/.yoyo-provision-probe`, { signal: AbortSignal.timeout(2000) })
      const body = await res.text()
      if (res.status === 404 && res.headers.get('content-type') === 'application/json' && res.headers.has('x-request-id')) return
      last = `${res.status} ${body.slice(0, 80)}`
    } catch (err) {
      last = err instanceof Error ? err.message : String(err)
    }
    await sleep(200)
  }
  throw new Error(`nginx on port ${port} does not serve the yoyo-platform router (last answer: ${last})`)
}

/**
 * nginx running with the current config: enabled under systemd, started directly without it;
 * reloaded (not restarted: no dropped connections) only when its config changed.
 */
export const ensureNginxRunning: Step = {
  name: 'ensureNginxRunning',
  async run(ctx) {
    const reload = await ctx.pending.has(RELOAD)
    if (ctx.runtime.systemd) {
      const enabled = (await $({ nothrow: true })`systemctl is-enabled ${SERVICE}`).stdout.trim() === 'enabled'
      const active = (await $({ nothrow: true })`systemctl is-active ${SERVICE}`).exitCode === 0
      if (!enabled) ctx.note(`enable ${SERVICE}`)
      if (!active) ctx.note(`start ${SERVICE}`)
      else if (reload) ctx.note(`reload ${SERVICE} (config changed)`)
      if (ctx.check) return
      if (!enabled) await $`systemctl enable ${SERVICE}`
      if (!active) await $`systemctl start ${SERVICE}`
      else if (reload) await $`systemctl reload ${SERVICE}`
    } else {
      const pid = await runningPid(ctx.paths.nginxPidFile, SERVICE)
      if (pid === undefined) ctx.note(`start ${SERVICE} (no systemd: daemonized)`)
      else if (reload) ctx.note(`reload ${SERVICE} (config changed)`)
      if (ctx.check) return
      if (pid === undefined || reload) await $`nginx -t -q`
      if (pid === undefined) await $`nginx`
      else if (reload) await $`nginx -s reload`
    }
    await waitForRouter(ctx.settings.nginxPort)
    await ctx.pending.done(RELOAD)
  },
}
