import { renderRouterConfig } from '../../nginx/render.ts'
import type { Context, Step } from '../lib/context.ts'
import type { Paths } from '../lib/paths.ts'
import type { Settings } from '../lib/settings.ts'
import { ensureAbsent, ensureFile, ensureFileExists, ensureSymlink, type Validate } from '../lib/files.ts'
import { ensureService } from '../lib/service.ts'
import { $ } from '../lib/shell.ts'
import { done, notYet, waitUntil } from '../lib/wait.ts'

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

/** nginx's own check of its whole config (the site included once it is enabled). */
const nginxTest = () => $`nginx -t -q`

/**
 * The router site in place and enabled, the package's default site gone, in that order: the default site
 * claims the same default server, so the new site validates only once it is gone. Returns whether
 * anything changed.
 */
export async function ensureRouterSite(ctx: Context, validate: Validate): Promise<boolean> {
  const { paths } = ctx
  const changes = [
    await ensureAbsent(ctx, paths.nginxDefaultSite),
    await ensureFile(ctx, paths.nginxSite, routerConfig(ctx), { mode: 0o644 }, validate),
    await ensureSymlink(ctx, paths.nginxSiteLink, paths.nginxSite, validate),
  ]
  return changes.includes(true)
}

/**
 * The router site (rendered from platform.json's routes) enabled, its access log 0640, and the package's
 * default site removed. A new site or link is checked with `nginx -t` as soon as it is in place and put
 * back when it fails, so the running nginx and the next boot keep the last good config. A reload is owed
 * when something changed.
 */
export const ensureNginxConfigured: Step = {
  name: 'ensureNginxConfigured',
  async run(ctx) {
    const changed = await ensureRouterSite(ctx, nginxTest)
    // The access log holds client addresses and request ids: readable by adm (log readers) only, from
    // the start, as Debian's logrotate creates it after a rotation. nginx keeps a file's mode.
    await ensureFileExists(ctx, ctx.paths.nginxAccessLog, { mode: 0o640, owner: 'www-data', group: 'adm' })
    if (changed) await ctx.pending.add(RELOAD)
  },
}

/** Answers our JSON 404 on an unknown path: proof that it is our config serving the port. */
async function waitForRouter(port: number): Promise<void> {
  await waitUntil(`nginx on port ${port} does not serve the yoyo-platform router`, async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/.yoyo-provision-probe`, { signal: AbortSignal.timeout(2000) })
      const body = await res.text()
      if (res.status === 404 && res.headers.get('content-type') === 'application/json' && res.headers.has('x-request-id')) return done(true)
      return notYet(`${res.status} ${body.slice(0, 80)}`)
    } catch (err) {
      return notYet(err instanceof Error ? err.message : String(err))
    }
  }, { timeoutMs: 10_000, intervalMs: 200 })
}

/**
 * nginx running with the current config: enabled under systemd, started directly without it;
 * reloaded (not restarted: no dropped connections) only when its config changed.
 */
export const ensureNginxRunning: Step = {
  name: 'ensureNginxRunning',
  async run(ctx) {
    await ensureService(ctx, {
      name: SERVICE,
      direct: {
        pidFile: ctx.paths.nginxPidFile,
        command: SERVICE,
        start: () => $`nginx`,
        reload: () => $`nginx -s reload`,
      },
      reloadWhen: RELOAD,
      validate: nginxTest,
      ready: () => waitForRouter(ctx.settings.nginxPort),
    })
  },
}
