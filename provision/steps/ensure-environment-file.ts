import type { Context, Step } from '../lib/context.ts'
import { renderEnvFile, resolveSecrets, type Secrets } from '../lib/env-file.ts'
import { ensureDirectory, ensureFile, readIfExists } from '../lib/files.ts'

/**
 * /etc/yoyo-platform/platform.env: the secrets (generated on the first run, reused after, never
 * printed) and the service settings. Mode 0600, owned by the app user: each service process reads it
 * itself. A change restarts the services (PM2 reload) so they read it again.
 */
export const ensureEnvironmentFile: Step = {
  name: 'ensureEnvironmentFile',
  async run(ctx) {
    await ensureDirectory(ctx, ctx.paths.configDir, { mode: 0o750, owner: 'root', group: ctx.appUser })
    const { secrets, generated } = resolveSecrets(await readIfExists(ctx.paths.envFile))
    if (generated.length > 0) ctx.detail(`new secrets: ${generated.join(', ')}`)
    ctx.shared.secrets = secrets
    const changed = await ensureFile(ctx, ctx.paths.envFile, renderEnvFile(secrets, ctx.settings), { mode: 0o600, owner: ctx.appUser })
    if (changed) await ctx.pending.add('pm2-reload')
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
