import { appNamesOf, builtEntryOf, platform, type PlatformManifest } from '../../services/shared/platform.ts'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Context, Step } from '../lib/context.ts'
import { hashTree } from '../lib/hash.ts'
import { retry, runAs } from '../lib/shell.ts'
import { readStamp, writeStamp } from '../lib/stamps.ts'
import { networkEnvironment, pathWith } from '../lib/system.ts'

const dependencyInputs = ['package.json', 'package-lock.json']
// What every app's build depends on; each app's own folder comes on top (appReloads).
const sharedInputs = ['services/shared', 'platform.json', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json']
const buildInputs = ['services', ...sharedInputs.filter((input) => !input.startsWith('services/'))]

/** The pending action that reloads one app (ensurePm2Running), or every app. */
export const reloadAction = (app?: string): string => (app === undefined ? 'pm2-reload' : `pm2-reload:${app}`)

/**
 * Which apps a new build changes: all of them when what they share changed (services/shared/, the
 * manifest, the TypeScript or npm setup) or nothing is known yet; otherwise those whose own folder did.
 * Returns the stamps to write once the build succeeded.
 */
async function appReloads(ctx: Context, manifest: PlatformManifest): Promise<{ apps: string[] | 'all'; stamps: Record<string, string> }> {
  const { appDir, stateDir } = ctx.paths
  const stamps: Record<string, string> = { 'app-build-shared': await hashTree(appDir, sharedInputs) }
  for (const app of appNamesOf(manifest)) stamps[`app-build-${app}`] = await hashTree(appDir, [manifest.apps[app]!.source])
  const previous = Object.fromEntries(await Promise.all(Object.keys(stamps).map(async (name) => [name, await readStamp(stateDir, name)] as const)))
  if (previous['app-build-shared'] !== stamps['app-build-shared']) return { apps: 'all', stamps }
  return { apps: appNamesOf(manifest).filter((app) => previous[`app-build-${app}`] !== stamps[`app-build-${app}`]), stamps }
}
/** What the build must produce: each app's compiled entry. */
export const serviceEntriesOf = (manifest: PlatformManifest): string[] => appNamesOf(manifest).map((app) => builtEntryOf(manifest, app))
export const serviceEntries = serviceEntriesOf(platform)

/** The environment npm runs with, as the app user: our Node.js first on PATH, npm's cache in its home. */
export function npmEnvironment(ctx: Context): Record<string, string> {
  const env: Record<string, string> = {
    ...networkEnvironment(process.env),
    PATH: pathWith(dirname(ctx.runtime.node)),
    HOME: ctx.paths.homeDir,
    npm_config_cache: join(ctx.paths.homeDir, '.npm'),
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

/**
 * `npm ci` when the lock file changed, `npm run build` when the sources changed, each decided by a
 * stamp holding the hash of its inputs. A new build owes the services a PM2 reload.
 */
export const ensureAppBuilt: Step = {
  name: 'ensureAppBuilt',
  async run(ctx) {
    const { appDir, stateDir } = ctx.paths
    const run = (args: string[]) => runAs(ctx.appUser, [npm(ctx), ...args], { env: npmEnvironment(ctx), cwd: appDir })

    const dependencies = await hashTree(appDir, dependencyInputs)
    const installed = existsSync(join(appDir, 'node_modules'))
    const dependenciesChanged = !installed || (await readStamp(stateDir, 'app-dependencies')) !== dependencies
    if (dependenciesChanged) {
      ctx.note(`npm ci in ${appDir}`)
      if (!ctx.check) {
        await retry(3, '5s', () => run(['ci', '--no-audit', '--no-fund', '--loglevel=error']))
        await writeStamp(stateDir, 'app-dependencies', dependencies)
      }
    }

    const sources = await hashTree(appDir, buildInputs)
    const built = serviceEntries.every((entry) => existsSync(join(appDir, entry)))
    if (dependenciesChanged || !built || (await readStamp(stateDir, 'app-build')) !== sources) {
      // A change to one service's folder reloads that service only; new dependencies reload them all.
      const reloads = await appReloads(ctx, platform)
      const apps = dependenciesChanged ? 'all' : reloads.apps
      ctx.note(`npm run build in ${appDir} (for ${apps === 'all' ? 'every app' : apps.join(', ') || 'no app: only the build was missing'})`)
      if (apps === 'all') await ctx.pending.add(reloadAction())
      else for (const app of apps) await ctx.pending.add(reloadAction(app))
      if (ctx.check) return
      await run(['run', 'build'])
      const missing = serviceEntries.filter((entry) => !existsSync(join(appDir, entry)))
      if (missing.length > 0) throw new Error(`the build did not produce ${missing.join(', ')}`)
      await writeStamp(stateDir, 'app-build', sources)
      for (const [name, value] of Object.entries(reloads.stamps)) await writeStamp(stateDir, name, value)
    }
  },
}
