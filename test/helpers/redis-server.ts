import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { freePort } from './ports.ts'

export interface RedisServer {
  port: number
  password: string
  /** redis://:password@127.0.0.1:port/0 */
  url: string
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
 * Starts a real redis-server on a free loopback port, in a temp dir, with a password and AOF on,
 * as the provisioner configures it. Extra `redis-server` arguments may be given (e.g. ['--maxmemory', '2mb']).
 */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort()
  const password = randomBytes(12).toString('hex')
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-redis-'))
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--requirepass', password,
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
    '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--loglevel', 'warning',
    ...extraArgs,
  ]
  let child: ChildProcess | undefined
  const client = new Redis({ port, password, lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 100 })
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
    port, password, dir, client, kill, start,
    url: `redis://:${password}@127.0.0.1:${port}/0`,
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
