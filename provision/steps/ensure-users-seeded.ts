import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { developmentUsers } from '../../services/auth-api/seed.ts'
import { keys } from '../../services/shared/keys.ts'
import { ensureCommand } from '../lib/command.ts'
import type { Context, Step } from '../lib/context.ts'
import { hashTree } from '../lib/hash.ts'
import { runAs } from '../lib/shell.ts'
import { readStamp, writeStamp } from '../lib/stamps.ts'
import { pathWith } from '../lib/system.ts'
import { requireSecrets } from './ensure-environment-file.ts'
import { redisCli } from './redis.ts'

export const seedScript = 'dist/services/auth-api/seed-users.js'
const STAMP = 'users-seeded'
// What decides what the seed writes: the users, their record layout and the password hashing.
const seedInputs = ['services/auth-api/seed.ts', 'services/auth-api/seed-users.ts', 'services/auth-api/users.ts', 'services/auth-api/passwords.ts']

/**
 * The fact the seed is judged by: the seed's sources and the development users' records as Redis holds
 * them, in one hash (read in one redis-cli call). Equal to the stamp of the last seed: nothing to do,
 * and no Node.js process (the seed's scrypt checks are the slow part of a run that changes nothing).
 */
async function seededFingerprint(ctx: Context): Promise<string> {
  const commands = developmentUsers.map((user) => `HGETALL ${keys.user(user.username)}`).concat(`HMGET ${keys.userIds} ${developmentUsers.map((user) => user.id).join(' ')}`)
  const records = await redisCli(await requireSecrets(ctx), [], `${commands.join('\n')}\n`)
  if (records.exitCode !== 0) throw new Error(`redis-cli failed reading the users: ${records.stderr.trim()}`)
  return createHash('sha256').update(await hashTree(ctx.paths.appDir, seedInputs)).update(records.stdout).digest('hex')
}

/**
 * The development users in Redis. The seed is idempotent and says per user "created", "updated" or "ok";
 * it runs when the users' records or the seed's sources differ from what the last seed left (a stamp),
 * and the step reports a change only when a user was written. It runs as the app user and reads the
 * env file itself (REDIS_URL with the password).
 */
export const ensureUsersSeeded: Step = {
  name: 'ensureUsersSeeded',
  async run(ctx) {
    const { appDir, envFile } = ctx.paths
    const before = await seededFingerprint(ctx)
    const script = join(appDir, seedScript)
    await ensureCommand(ctx, {
      change: 'seed the development users',
      holds: async () => (await readStamp(ctx.paths.stateDir, STAMP)) === before,
      run: async () => {
        if (!existsSync(script)) throw new Error(`${script} is missing: run ensureAppBuilt first`)
        const output = await runAs(ctx.appUser, [ctx.runtime.node, `--env-file=${envFile}`, script], {
          env: { PATH: pathWith(dirname(ctx.runtime.node)), HOME: ctx.paths.homeDir },
          cwd: appDir,
        })
        const lines = output.stdout.split('\n').filter((line) => line.trim() !== '')
        for (const line of lines) ctx.detail(line)
        await writeStamp(ctx.paths.stateDir, STAMP, await seededFingerprint(ctx))
        return lines.filter((line) => !/: ok$/.test(line.trim()))
      },
      changed: (written) => (written.length > 0 ? [`seed users: ${written.join(', ')}`] : []),
    })
  },
}
