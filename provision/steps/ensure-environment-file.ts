import { appNamesOf, platform, type PlatformManifest } from '../../services/shared/platform.ts'
import { ownRedisUrlVariable } from '../../services/shared/redis-users.ts'
import type { Context, Step } from '../lib/context.ts'
import { renderEnvFile, resolveSecrets, type Secrets } from '../lib/env-file.ts'
import { ensureDirectory, ensureFile, readIfExists } from '../lib/files.ts'
import { parseDotenv } from '../lib/settings.ts'
import { reloadAction } from './ensure-app-built.ts'

/**
 * The apps that read a variable whose value differs between two env files: an app's own REDIS_URL_<APP>
 * that app, a setting its apps, any other variable all.
 */
export function appsReading(manifest: PlatformManifest, before: string, after: string): string[] {
  const [old, next] = [parseDotenv(before), parseDotenv(after)]
  const changed = [...new Set([...Object.keys(old), ...Object.keys(next)])].filter((name) => old[name] !== next[name])
  const apps = new Set<string>()
  for (const name of changed) {
    const owner = appNamesOf(manifest).find((app) => ownRedisUrlVariable(app) === name)
    const readers = owner !== undefined ? [owner] : (manifest.settings[name]?.apps ?? 'all')
    for (const app of readers === 'all' ? appNamesOf(manifest) : readers) apps.add(app)
  }
  return appNamesOf(manifest).filter((app) => apps.has(app))
}

/**
 * /etc/yoyo-platform/platform.env: the secrets (generated on the first run, reused after, never
 * printed) and the service settings. Mode 0600, owned by the app user: each service process reads it
 * itself. A changed value reloads the apps that read it (PM2 reload) so they read it again.
 */
export const ensureEnvironmentFile: Step = {
  name: 'ensureEnvironmentFile',
  async run(ctx) {
    await ensureDirectory(ctx, ctx.paths.configDir, { mode: 0o750, owner: 'root', group: ctx.appUser })
    const existing = await readIfExists(ctx.paths.envFile)
    const { secrets, generated } = resolveSecrets(existing)
    if (generated.length > 0) ctx.detail(`new secrets: ${generated.join(', ')}`)
    ctx.shared.secrets = secrets
    const wanted = renderEnvFile(secrets, ctx.settings)
    if (await ensureFile(ctx, ctx.paths.envFile, wanted, { mode: 0o600, owner: ctx.appUser })) {
      for (const app of appsReading(platform, existing ?? '', wanted)) await ctx.pending.add(reloadAction(app))
    }
  },
}

/** The secrets for steps that need them (Redis's password), from this run or from the env file. */
export async function requireSecrets(ctx: Context): Promise<Secrets> {
  if (ctx.shared.secrets !== undefined) return ctx.shared.secrets
  const existing = await readIfExists(ctx.paths.envFile)
  const { secrets, generated } = resolveSecrets(existing)
  // Under --check a missing file is just more drift; otherwise a password nobody keeps would lock us out.
  if (generated.length > 0 && !ctx.check) {
    throw new Error(`${ctx.paths.envFile} lacks ${generated.join(', ')}: run the ensureEnvironmentFile step first`)
  }
  ctx.shared.secrets = secrets
  return secrets
}
