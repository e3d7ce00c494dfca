import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { redisUsersOf, renderRedisAcl } from '../../provision/render/redis-acl.ts'
import { platform } from '../../services/shared/platform.ts'
import { freePort } from './ports.ts'

/** The harness's own Redis user, for assertions and fault injection (FLUSHALL, CONFIG SET maxmemory): every command. */
export const TEST_ADMIN_USER = 'test-admin'

export interface RedisServer {
  port: number
  /** The harness's user's (TEST_ADMIN_USER) password. */
  password: string
  /** redis://test-admin:password@127.0.0.1:port/0: the harness's user, for assertions. */
  url: string
  /** An app's (or the provisioner's) own user's URL, with only what the ACL gives it: what the services get. */
  urlOf(user: string): string
  /** Each ACL user's password (the apps of platform.json and the provisioner). */
  passwords: Record<string, string>
  dir: string
  /** A plain ioredis client for assertions (closed by stop()). */
  client: Redis
  /** Stops the server, keeping its data directory (for restart scenarios). */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Starts the server again on the same port and data directory. */
  start(): Promise<void>
  stop(): Promise<void>
}

/**
 * Starts a real redis-server on a free loopback port, in a temp dir, with AOF on and the provisioner's ACL
 * file (provision/render/redis-acl.ts: `default` off, a user per app), plus the harness's own user.
 * Extra `redis-server` arguments may be given (e.g. ['--maxmemory', '2mb']).
 */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort()
  const password = randomBytes(12).toString('hex')
  const passwords = Object.fromEntries(Object.keys(redisUsersOf(platform)).map((user) => [user, randomBytes(12).toString('hex')]))
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-redis-'))
  const aclFile = join(dir, 'users.acl')
  await writeFile(aclFile, renderRedisAcl(platform, passwords, [`user ${TEST_ADMIN_USER} on >${password} ~* &* +@all`]), { mode: 0o600 })
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--aclfile', aclFile,
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
    '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--loglevel', 'warning',
    ...extraArgs,
  ]
  let child: ChildProcess | undefined
  const client = new Redis({ port, username: TEST_ADMIN_USER, password, lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 100 })
  client.on('error', () => {})

  const start = async (): Promise<void> => {
    child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] })
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        if (client.status === 'wait' || client.status === 'end') await client.connect()
        if ((await client.ping()) === 'PONG') return
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`)
        await sleep(50)
      }
    }
  }
  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill(signal)
    await exited
  }
  await start()
  return {
    port, password, passwords, dir, client, kill, start,
    url: `redis://${TEST_ADMIN_USER}:${password}@127.0.0.1:${port}/0`,
    urlOf: (user) => {
      if (passwords[user] === undefined) throw new Error(`no Redis user ${user} (one of ${Object.keys(passwords).join(', ')})`)
      return `redis://${user}:${passwords[user]}@127.0.0.1:${port}/0`
    },
    stop: async () => {
      client.disconnect()
      await kill('SIGKILL')
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Makes Redis full (maxmemory-policy noeviction): every write refused with OOM, reads still served, until
 * `maxmemory` is set back. The limit goes to half of what is used, far below the stored data: right at the
 * limit a write sometimes fits, as usage moves with the clients' buffers (a client that just sent a 256 kB
 * value keeps a query buffer that size until Redis shrinks it; 0.45 MB came free that way within a second
 * here), and with a limit 2 MB below usage a busy CI run saw Redis accept 54 transactions in 5 s.
 */
export async function holdFull(client: Redis): Promise<void> {
  const used = Number(/^used_memory:(\d+)/m.exec(await client.info('memory'))?.[1])
  await client.config('SET', 'maxmemory', String(Math.floor(used / 2)))
}
