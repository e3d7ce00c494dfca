import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Step } from '../lib/context.ts'
import { runAs } from '../lib/shell.ts'
import { pathWith } from '../lib/system.ts'
import { requireSecrets } from './ensure-environment-file.ts'
import { redisCli } from './redis.ts'

export const seedScript = 'dist/services/auth-api/seed-users.js'

/**
 * The development users in Redis. The seed is idempotent and says per user "created", "updated" or
 * "ok", so it runs every time and the step reports a change only when a user was written. It runs as
 * the app user and reads the env file itself (REDIS_URL with the password).
 * Under --check it does not run (it writes): the users index is looked at instead.
 */
export const ensureUsersSeeded: Step = {
  name: 'ensureUsersSeeded',
  async run(ctx) {
    const { appDir, envFile } = ctx.paths
    if (ctx.check) {
      const secrets = await requireSecrets(ctx)
      const count = await redisCli(secrets, ['hlen', 'users:by-id'])
      if (!(Number(count.stdout.trim()) > 0)) ctx.note('seed the development users')
      return
    }
    const script = join(appDir, seedScript)
    if (!existsSync(script)) throw new Error(`${script} is missing: run ensureAppBuilt first`)
    const output = await runAs(ctx.appUser, [ctx.runtime.node, `--env-file=${envFile}`, script], {
      env: { PATH: pathWith(dirname(ctx.runtime.node)), HOME: ctx.paths.homeDir },
      cwd: appDir,
    })
    const lines = output.stdout.split('\n').filter((line) => line.trim() !== '')
    for (const line of lines) ctx.detail(line)
    const written = lines.filter((line) => !/: ok$/.test(line.trim()))
    if (written.length > 0) ctx.note(`seed users: ${written.join(', ')}`)
  },
}
