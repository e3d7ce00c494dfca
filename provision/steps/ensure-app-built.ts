import { appNamesOf, builtEntryOf, platform, type PlatformManifest } from '../../services/shared/platform.ts'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Context, Step } from '../lib/context.ts'
import { hashTree } from '../lib/hash.ts'
import { retry, runAs } from '../lib/shell.ts'
import { readStamp, writeStamp } from '../lib/stamps.ts'
import { networkEnvironment, pathWith } from '../lib/system.ts'

const dependencyInputs = ['package.json', 'package-lock.json']
const buildInputs = ['services', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json']
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
      ctx.note(`npm run build in ${appDir}`)
      await ctx.pending.add('pm2-reload')
      if (ctx.check) return
      await run(['run', 'build'])
      const missing = serviceEntries.filter((entry) => !existsSync(join(appDir, entry)))
      if (missing.length > 0) throw new Error(`the build did not produce ${missing.join(', ')}`)
      await writeStamp(stateDir, 'app-build', sources)
    }
  },
}
