import { kill } from 'node:process'
import { ensureCommand } from '../lib/command.ts'
import type { Context, Step } from '../lib/context.ts'
import { platform } from '../../services/shared/platform.ts'
import { REDIS_PORT, redisPasswordsOf, type Secrets } from '../lib/env-file.ts'
import { ensureDirectory, ensureFile, ensureLine } from '../lib/files.ts'
import { $, runAs } from '../lib/shell.ts'
import { ensureService } from '../lib/service.ts'
import { runningPid } from '../lib/system.ts'
import { done, notYet, waitUntil } from '../lib/wait.ts'
import { PROVISIONER_USER, renderRedisAcl } from '../render/redis-acl.ts'
import { renderRedisConfig } from '../render/redis-config.ts'
import { requireSecrets } from './ensure-environment-file.ts'

const SERVICE = 'redis-server'
const RESTART = 'redis-restart'

/**
 * Our settings in their own file, included last from the package's redis.conf, and Redis's users in the ACL
 * file that config names (provision/render/redis-acl.ts). A changed config owes a restart; a change to the
 * users alone is applied to the running Redis with ACL LOAD, and owes a restart only when that fails (Redis
 * not running yet, or not yet on this ACL file: the first run on a machine provisioned before Redis had users).
 */
export const ensureRedisConfigured: Step = {
  name: 'ensureRedisConfigured',
  async run(ctx) {
    const { paths } = ctx
    const secrets = await requireSecrets(ctx)
    const config = renderRedisConfig({
      aclFile: paths.redisAclFile,
      port: REDIS_PORT,
      maxmemory: ctx.settings.redisMaxmemory,
      dataDir: paths.redisDataDir,
      pidFile: paths.redisPidFile,
      logFile: paths.redisLogFile,
    })
    const users = await ensureFile(ctx, paths.redisAclFile, renderRedisAcl(platform, redisPasswordsOf(secrets)), { mode: 0o640, owner: 'root', group: 'redis' })
    const wrote = await ensureFile(ctx, paths.redisConfig, config, { mode: 0o640, owner: 'root', group: 'redis' })
    const included = await ensureLine(ctx, paths.redisMainConfig, `include ${paths.redisConfig}`, 'yoyo-platform: our settings, last so they win')
    if (wrote || included) await ctx.pending.add(RESTART)
    else if (users) {
      // The users alone: the running Redis reads them again, no restart (reported with the file's change).
      await ensureCommand(ctx, {
        holds: () => ctx.pending.has(RESTART),
        run: async () => {
          const load = await redisCli(secrets, ['acl', 'load'])
          if (load.stdout.trim() === 'OK') ctx.detail('Redis reloaded its users (ACL LOAD)')
          else await ctx.pending.add(RESTART)
        },
      })
    }
  },
}

/** redis-cli as the provisioner's Redis user, the password in the environment (REDISCLI_AUTH), never on the command line. */
export function redisCli(secrets: Secrets, args: string[], input?: string) {
  return cli({ user: PROVISIONER_USER, password: secrets.REDIS_PASSWORD }, REDIS_PORT, args, input)
}

interface Login {
  /** Without a user, the password is `default`'s (a Redis from before the platform had users). */
  user?: string
  password: string
}

/** `input`: commands, one per line, sent in one connection (redis-cli reads them from stdin). */
function cli(login: Login | undefined, port: number, args: string[], input?: string) {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
  if (login !== undefined) env.REDISCLI_AUTH = login.password
  const user = login?.user === undefined ? [] : ['--user', login.user]
  return $({ env, nothrow: true, ...(input === undefined ? {} : { input }) })`redis-cli -h 127.0.0.1 -p ${port} ${user} ${args}`
}

/**
 * Before a restart that turns the append-only file on: a Redis that ran without it has its data in
 * dump.rdb only, and Redis 7 started with `appendonly yes` and no AOF yet starts EMPTY (it does not
 * read dump.rdb). So the running Redis switches AOF on live first, which writes the whole dataset to
 * a new AOF, and we wait for that rewrite to finish. Tries the provisioner's user, then the same password
 * as `default`'s (a Redis from before the platform had users, whose one password it was), then none (a
 * fresh package's Redis). Returns what it did, for the report.
 */
export async function keepDataAcrossRestart(password: string, port = REDIS_PORT): Promise<string | undefined> {
  for (const auth of [{ user: PROVISIONER_USER, password }, { password }, undefined]) {
    const current = await cli(auth, port, ['config', 'get', 'appendonly'])
    // redis-cli exits 0 on error replies too (NOAUTH, WRONGPASS): only a real answer names the setting.
    const [name, value] = current.stdout.trim().split('\n').map((line) => line.trim())
    if (current.exitCode !== 0 || name !== 'appendonly' || value === undefined) continue
    if (value === 'yes') return undefined
    const switched = await cli(auth, port, ['config', 'set', 'appendonly', 'yes'])
    if (switched.stdout.trim() !== 'OK') throw new Error(`Redis refused to switch its append-only file on (${switched.stdout.trim()}): not restarting it`)
    await waitUntil('Redis did not finish writing its append-only file (not restarting it)', async () => {
      const info = (await cli(auth, port, ['info', 'persistence'])).stdout
      const written = /aof_enabled:1/.test(info) && /aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)
      return written ? done(true) : notYet(info.match(/aof_rewrite_in_progress:\d/)?.[0] ?? 'no answer')
    }, { timeoutMs: 120_000, intervalMs: 100 })
    return 'switched the running Redis to the append-only file first (keeps its data across the restart)'
  }
  return undefined
}

async function waitForPong(secrets: Secrets): Promise<void> {
  await waitUntil(`Redis did not answer PING on port ${REDIS_PORT}`, async () => {
    const result = await redisCli(secrets, ['ping'])
    const answer = `${result.stdout}${result.stderr}`.trim()
    if (/NOAUTH|WRONGPASS|invalid password/i.test(answer)) {
      throw new Error(`Redis on port ${REDIS_PORT} does not take the password in the env file (another Redis instance, or one not restarted?)`)
    }
    return answer === 'PONG' ? done(true) : notYet(answer)
  }, { timeoutMs: 15_000, intervalMs: 200 })
}

async function keepData(ctx: Context): Promise<void> {
  const kept = await keepDataAcrossRestart((await requireSecrets(ctx)).REDIS_PASSWORD)
  if (kept !== undefined) ctx.detail(kept)
}

async function stopDirect(ctx: Context, pid: number): Promise<void> {
  ctx.detail(`stopping redis-server (pid ${pid}) with SIGTERM: it flushes the append-only file first`)
  kill(pid, 'SIGTERM')
  await waitUntil(`redis-server (pid ${pid}) did not stop`, async () => {
    const running = await runningPid(ctx.paths.redisPidFile, SERVICE)
    return running === pid ? notYet(`pid ${pid} still running`) : done(true)
  }, { timeoutMs: 30_000, intervalMs: 100 })
}

async function startDirect(ctx: Context): Promise<void> {
  // What systemd's RuntimeDirectory would make: the pid file's directory, owned by redis.
  await ensureDirectory({ check: false, note: () => {} }, ctx.paths.redisRunDir, { mode: 0o2755, owner: 'redis' })
  await runAs('redis', ['redis-server', ctx.paths.redisMainConfig, '--daemonize', 'yes'], { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, cwd: '/' })
}

/**
 * Redis running, with our config: enabled at boot under systemd, started directly (daemonized, as the
 * redis user) without it. Restarted only when its config changed, its data kept across the restart.
 * Verified by a PING with the password.
 */
export const ensureRedisRunning: Step = {
  name: 'ensureRedisRunning',
  async run(ctx) {
    await ensureService(ctx, {
      name: SERVICE,
      direct: {
        pidFile: ctx.paths.redisPidFile,
        command: SERVICE,
        start: () => startDirect(ctx),
        stop: (pid) => stopDirect(ctx, pid),
      },
      restartWhen: RESTART,
      beforeRestart: () => keepData(ctx),
      ready: async () => waitForPong(await requireSecrets(ctx)),
    })
  },
}
