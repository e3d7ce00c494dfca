import { build } from '../../scripts/build.ts'
import { appNamesOf, builtEntryOf, platform, type PlatformManifest } from '../../services/shared/platform.ts'
import { existsSync } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { ensureCommand } from '../lib/command.ts'
import type { Context, Step } from '../lib/context.ts'
import { hashTree } from '../lib/hash.ts'
import { $, retry } from '../lib/shell.ts'
import { readStamp, writeStamp } from '../lib/stamps.ts'
import { networkEnvironment, pathWith } from '../lib/system.ts'

// The app's dependencies, and the provisioner's own (zx, diff): `yoyo-status` runs provision/status.ts
// from the app dir, so they are installed there too (provision/node_modules is not copied: see ensureAppSynced).
export const dependencyInputs = ['package.json', 'package-lock.json', 'provision/package.json', 'provision/package-lock.json']
const installDirs = ['.', 'provision']
// What every app runs besides its own folder (appReloads): the shared code, the manifest, the dependencies.
const sharedInputs = ['services/shared', 'platform.json', 'package.json', 'package-lock.json']
// What the build (scripts/build.ts: the services' types stripped into dist/) is made from.
const buildInputs = ['services', 'platform.json']
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

/** What the build must produce: each app's entry as JavaScript, what PM2 runs. */
export const serviceEntriesOf = (manifest: PlatformManifest): string[] => appNamesOf(manifest).map((app) => builtEntryOf(manifest, app))
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

/** A directory as this step leaves it: there, and root's (the app user may read it, not change it). */
async function ownedByRoot(path: string): Promise<boolean> {
  const stats = await stat(path).catch(() => undefined)
  return stats?.isDirectory() === true && stats.uid === 0
}

/**
 * The app ready to run, root's and read-only to the app user (it can read its code and dependencies,
 * not change them): the production dependencies installed with `npm ci --omit=dev` when the lock file
 * changed, as root and with `--ignore-scripts` (no dependency runs code at install; none needs to); the
 * services built into dist/ when their sources changed, by Node.js's own type stripper
 * (scripts/build.ts: no compiler, a fraction of a second). Each decided by a stamp holding the hash of
 * its inputs. An install owes every app a PM2 reload; a build, the apps whose sources changed.
 */
export const ensureAppBuilt: Step = {
  name: 'ensureAppBuilt',
  async run(ctx) {
    const { appDir, stateDir } = ctx.paths
    const dependencies = `${INSTALL_KIND} ${await hashTree(appDir, dependencyInputs)}`
    const nodeModules = installDirs.map((dir) => join(appDir, dir, 'node_modules'))
    const rootsOnly = async () => (await Promise.all(nodeModules.map(ownedByRoot))).every(Boolean)
    const dependenciesChanged = !(await rootsOnly()) || (await readStamp(stateDir, 'app-dependencies')) !== dependencies
    await ensureCommand(ctx, {
      change: `npm ci --omit=dev in ${appDir} (production dependencies, as root)`,
      holds: () => !dependenciesChanged,
      run: async () => {
        // npm ci empties node_modules but keeps the directory: one the app user owns (an older layout) goes.
        for (const dir of nodeModules) if (!(await ownedByRoot(dir))) await rm(dir, { recursive: true, force: true })
        // Both at once: they share nothing but the network.
        await Promise.all(installDirs.map((dir) => retry(3, '5s', () => $({ env: npmEnvironment(ctx), cwd: join(appDir, dir) })`${npm(ctx)} ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error`)))
        await writeStamp(stateDir, 'app-dependencies', dependencies)
      },
    })

    const dist = join(appDir, 'dist')
    const sources = `stripped ${await hashTree(appDir, buildInputs)}`
    const built = (await ownedByRoot(dist)) && serviceEntries.every((entry) => existsSync(join(appDir, entry)))
    const current = !dependenciesChanged && built && (await readStamp(stateDir, 'app-build')) === sources
    // A change to one service's folder reloads that service only; new dependencies reload them all.
    const reloads = current ? undefined : await appReloads(ctx, platform)
    const apps = dependenciesChanged ? 'all' : reloads?.apps ?? []
    await ensureCommand(ctx, {
      change: `build dist/ in ${appDir} (for ${apps === 'all' ? 'every app' : apps.join(', ') || 'no app: only the build was missing'})`,
      holds: () => current,
      run: async () => {
        // A dist/ the app user owns (tsc ran as that user in an older layout) goes: it could plant code there.
        if (!(await ownedByRoot(dist))) await rm(dist, { recursive: true, force: true })
        const changes = await build(appDir)
        ctx.detail(`dist/: ${changes.written.length} file(s) written, ${changes.removed.length} removed`)
        const missing = serviceEntries.filter((entry) => !existsSync(join(appDir, entry)))
        if (missing.length > 0) throw new Error(`the build did not produce ${missing.join(', ')}`)
        await writeStamp(stateDir, 'app-build', sources)
        for (const [name, value] of Object.entries(reloads!.stamps)) await writeStamp(stateDir, name, value)
      },
    })
    // Owed under --check too: ensurePm2Running then reports the reload it would make.
    if (!current) {
      if (apps === 'all') await ctx.pending.add(reloadAction())
      else for (const app of apps) await ctx.pending.add(reloadAction(app))
    }
  },
}
