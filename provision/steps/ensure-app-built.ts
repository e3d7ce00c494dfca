import { appNamesOf, platform, sourceEntryOf, type PlatformManifest } from '../../services/shared/platform.ts'
import { existsSync } from 'node:fs'
import { stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Context, Step } from '../lib/context.ts'
import { hashTree } from '../lib/hash.ts'
import { $, retry } from '../lib/shell.ts'
import { readStamp, writeStamp } from '../lib/stamps.ts'
import { networkEnvironment, pathWith } from '../lib/system.ts'

const dependencyInputs = ['package.json', 'package-lock.json']
// What every app runs besides its own folder (appReloads): the shared code, the manifest, the dependencies.
const sharedInputs = ['services/shared', 'platform.json', 'package.json', 'package-lock.json']
// How the dependencies are installed, in their stamp: a machine installed another way (every dependency,
// owned by the app user, as before) is installed again.
const INSTALL_KIND = 'production, root-owned'

/** The pending action that reloads one app (ensurePm2Running), or every app. */
export const reloadAction = (app?: string): string => (app === undefined ? 'pm2-reload' : `pm2-reload:${app}`)

/**
 * Which apps a change reloads: all of them when what they share changed (services/shared/, the
 * manifest, the npm setup) or nothing is known yet; otherwise those whose own folder did.
 * Returns the stamps to write once the change is in place.
 */
async function appReloads(ctx: Context, manifest: PlatformManifest): Promise<{ apps: string[] | 'all'; stamps: Record<string, string> }> {
  const { appDir, stateDir } = ctx.paths
  const names = appNamesOf(manifest)
  const hashes = await Promise.all([hashTree(appDir, sharedInputs), ...names.map((app) => hashTree(appDir, [manifest.apps[app]!.source]))])
  const stamps: Record<string, string> = { 'app-build-shared': hashes[0]! }
  for (const [index, app] of names.entries()) stamps[`app-build-${app}`] = hashes[index + 1]!
  const previous = Object.fromEntries(await Promise.all(Object.keys(stamps).map(async (name) => [name, await readStamp(stateDir, name)] as const)))
  if (previous['app-build-shared'] !== stamps['app-build-shared']) return { apps: 'all', stamps }
  return { apps: names.filter((app) => previous[`app-build-${app}`] !== stamps[`app-build-${app}`]), stamps }
}

/** What PM2 runs: each app's TypeScript entry, as it is (Node.js 24 strips the types; no build). */
export const serviceEntriesOf = (manifest: PlatformManifest): string[] => appNamesOf(manifest).map((app) => sourceEntryOf(manifest, app))
export const serviceEntries = serviceEntriesOf(platform)

/**
 * The environment npm runs with, as root: our Node.js first on PATH, npm's cache in the provisioner's
 * state (root's, kept between runs), the machine's proxy and CA settings.
 */
export function npmEnvironment(ctx: Context): Record<string, string> {
  const env: Record<string, string> = {
    ...networkEnvironment(process.env),
    PATH: pathWith(dirname(ctx.runtime.node)),
    HOME: ctx.paths.stateDir,
    npm_config_cache: join(ctx.paths.stateDir, 'npm-cache'),
    npm_config_update_notifier: 'false',
  }
  if (process.env.NPM_REGISTRY) env.npm_config_registry = process.env.NPM_REGISTRY
  return env
}

/** npm next to the running node (bootstrap.sh lays it out so), else the one on PATH. */
function npm(ctx: Context): string {
  const beside = join(dirname(ctx.runtime.node), 'npm')
  return existsSync(beside) ? beside : 'npm'
}

/** node_modules as this step leaves it: there, and root's (the app user may read it, not change it). */
async function installedByRoot(appDir: string): Promise<boolean> {
  const stats = await stat(join(appDir, 'node_modules')).catch(() => undefined)
  return stats?.isDirectory() === true && stats.uid === 0
}

/**
 * The app ready to run: its production dependencies installed with `npm ci --omit=dev` when the lock
 * file changed, as root (the app user can read its code and dependencies, not change them) and with
 * `--ignore-scripts` (no dependency runs code at install; none needs to). No compile step: PM2 runs
 * the TypeScript sources. A change to the sources owes a PM2 reload to the apps it touches.
 */
export const ensureAppBuilt: Step = {
  name: 'ensureAppBuilt',
  async run(ctx) {
    const { appDir, stateDir } = ctx.paths
    const dependencies = `${INSTALL_KIND} ${await hashTree(appDir, dependencyInputs)}`
    const dependenciesChanged = !(await installedByRoot(appDir)) || (await readStamp(stateDir, 'app-dependencies')) !== dependencies
    if (dependenciesChanged) {
      ctx.note(`npm ci --omit=dev in ${appDir} (production dependencies, as root)`)
      if (!ctx.check) {
        await retry(3, '5s', () => $({ env: npmEnvironment(ctx), cwd: appDir })`${npm(ctx)} ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error`)
        await writeStamp(stateDir, 'app-dependencies', dependencies)
      }
    }

    const missing = serviceEntries.filter((entry) => !existsSync(join(appDir, entry)))
    if (missing.length > 0 && !ctx.check) throw new Error(`${missing.join(', ')} missing from ${appDir}: run ensureAppSynced first`)
    // New dependencies reload every app; a change to one service's folder reloads that service only.
    const reloads = await appReloads(ctx, platform)
    const apps = dependenciesChanged ? 'all' : reloads.apps
    if (apps === 'all' || apps.length > 0) {
      ctx.note(`reload ${apps === 'all' ? 'every app' : apps.join(', ')} (new code in ${appDir})`)
      if (apps === 'all') await ctx.pending.add(reloadAction())
      else for (const app of apps) await ctx.pending.add(reloadAction(app))
    }
    if (ctx.check) return
    for (const [name, value] of Object.entries(reloads.stamps)) {
      if ((await readStamp(stateDir, name)) !== value) await writeStamp(stateDir, name, value)
    }
  },
}
