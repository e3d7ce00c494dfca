import { createRequire } from 'node:module'
import kue from 'kue'
import { keys } from '../keys.ts'
import type { Logger } from '../logger.ts'
import { TRANSACTION_JOB } from './transaction-job.ts'

export type Queue = kue.Queue
export type Job = kue.Job


// kue drives Redis through its own node_redis 2.x client; load exactly the copy kue depends on.
const kueRequire = createRequire(createRequire(import.meta.url).resolve('kue'))
const nodeRedis = kueRequire('redis') as { createClient(options: Record<string, unknown>): unknown }
// kue's shared Redis client, through which it reads jobs (Job.get) and publishes events; made on first use.
const kueRedis = kueRequire('./lib/redis') as { client(): NodeRedisClient }
// kue's pub/sub of job events (its q:events channel), which its Job and Worker call through this object.
const kueEvents = kueRequire('./lib/queue/events') as { emit: (id: unknown, event: string, ...args: unknown[]) => void }

/**
 * The only events kue needs across processes: the TTL handshake. The process that finds a job active for
 * longer than its TTL publishes 'ttl exceeded'; the worker holding the job fails it, takes its next job
 * and answers 'ttl exceeded ack' (without the answer kue fails the job itself a second later, but the
 * worker stays stuck on it).
 */
const CROSS_PROCESS_EVENTS = new Set(['ttl exceeded', 'ttl exceeded ack'])

/**
 * kue publishes every job's start and completion on q:events whatever `jobEvents` says, and every process
 * with a queue (each Loyalty Worker instance, the dashboard) is subscribed and parses every message: two
 * per job, for every job any of them runs, so each added instance added work to all the others. Nothing
 * on the platform listens to those events (the dashboard reads job states from Redis), so only the TTL
 * handshake is published. Once per process, like kue's own event module.
 */
function publishOnlyCrossProcessEvents(): void {
  const publish = kueEvents.emit
  if (publish.name === 'publishCrossProcessEvent') return
  kueEvents.emit = function publishCrossProcessEvent(id, event, ...args) {
    if (CROSS_PROCESS_EVENTS.has(event)) publish(id, event, ...args)
  }
}

/**
 * kue's shutdown removes every listener from the queue and its pub/sub client and only then closes its
 * Redis clients, whose errors on the way out (an UNSUBSCRIBE on a dead connection) would be thrown as
 * unhandled 'error' events. An 'error' with no listener left, which only happens after shutdown, is dropped.
 */
function dropErrorsAfterShutdown(emitter: { emit: (event: string | symbol, ...args: unknown[]) => boolean; listenerCount(event: string): number }): void {
  const emit = emitter.emit.bind(emitter)
  emitter.emit = (event, ...args) => (event === 'error' && emitter.listenerCount('error') === 0 ? false : emit(event, ...args))
}

interface CorkableStream {
  cork(): void
  uncork(): void
}

/**
 * node_redis 2 writes every command with its own socket write, and kue issues a job's ~20 commands in
 * one go (a job save: INCR, then a dozen HSETs, a MULTI and an LPUSH), so each became a syscall. Corking
 * the socket for the rest of the tick sends them in one writev. The cork belongs to one socket: after a
 * reconnect node_redis writes to a new one, and what a dead socket held is discarded with it (node_redis
 * fails or retries those commands itself), never replayed on the new connection.
 */
function coalesceWritesPerTick(client: { stream: CorkableStream; write(data: unknown): void }): void {
  const write = client.write.bind(client)
  let corked: CorkableStream | undefined
  client.write = (data) => {
    const stream = client.stream
    if (corked !== stream) {
      corked = stream
      stream.cork()
      process.nextTick(() => {
        if (corked === stream) corked = undefined
        stream.uncork()
      })
    }
    write(data)
  }
}

interface AuthCommand {
  command: string
  args: unknown[]
}

/**
 * node_redis 2 knows only Redis 5's AUTH <password>, which Redis 6+ checks against the `default` user. The
 * platform gives each app a Redis user of its own (provision/render/redis-acl.ts), so the client's AUTH goes
 * out as AUTH <username> <password>. node_redis itself still sends it, first on every connection and again
 * after each reconnect, and handles its reply (a wrong password is an error event, LOADING is retried).
 * The password is given with client.auth() once this is in place, not as an option: node_redis sends the
 * first AUTH from its constructor, before this could see it.
 */
function authenticateAs(client: { internal_send_command(command: AuthCommand): unknown; auth(password: string): unknown }, username: string): void {
  const send = client.internal_send_command.bind(client)
  client.internal_send_command = (command) => {
    if (command.command === 'auth' && command.args.length === 1) command.args = [username, command.args[0]]
    return send(command)
  }
}

function credentialsOf(redisUrl: string): { username: string; password: string } {
  const url = new URL(redisUrl)
  return { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }
}

function redisOptions(redisUrl: string, offlineQueue: boolean): Record<string, unknown> {
  const url = new URL(redisUrl)
  const db = Number(url.pathname.replace(/^\//, '') || 0)
  return {
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || 6379),
    db,
    // Fail commands at once while Redis is down (the API answers 503) instead of queueing them in memory.
    enable_offline_queue: offlineQueue,
    // Reconnect forever, backing off to 1 s: the queue must recover by itself after a Redis restart.
    retry_strategy: (options: { attempt: number }) => Math.min(options.attempt * 100, 1000),
  }
}

export interface QueueOptions {
  /**
   * Queue commands in memory while Redis is unreachable instead of failing them (default false: fail
   * fast). A consumer needs it: kue creates some of its clients lazily and, between popping a job id and
   * reading the job, a failed command loses the job for good (out of every kue set, never retried).
   */
  offlineQueue?: boolean
}

/**
 * The platform's kue queue. kue keeps one queue per process (a singleton), so a process creates it once
 * and closes it with closeQueue.
 */
/**
 * A node_redis client for kue, logged in as the URL's user (see authenticateAs), and nothing else changed:
 * what kue's own tools need to reach the platform's Redis (the bench's kue as shipped, on its own prefix).
 */
export function loggedInClient(redisUrl: string, offlineQueue = true): ReturnType<typeof nodeRedis.createClient> {
  const { username, password } = credentialsOf(redisUrl)
  const client = nodeRedis.createClient(redisOptions(redisUrl, offlineQueue)) as ReturnType<typeof nodeRedis.createClient> & Parameters<typeof authenticateAs>[0]
  if (username !== '' && username !== 'default') authenticateAs(client, username)
  if (password !== '') client.auth(password)
  return client
}

export function createQueue(redisUrl: string, logger: Logger, queueOptions: QueueOptions = {}): Queue {
  publishOnlyCrossProcessEvents()
  const queue = kue.createQueue({
    prefix: keys.queuePrefix,
    // Per-job pub/sub events cost a PUBLISH per state change and nothing here listens to them.
    jobEvents: false,
    redis: {
      createClientFactory: () => {
        const client = loggedInClient(redisUrl, queueOptions.offlineQueue ?? false) as unknown as Parameters<typeof dropErrorsAfterShutdown>[0] &
          Parameters<typeof coalesceWritesPerTick>[0]
        dropErrorsAfterShutdown(client)
        coalesceWritesPerTick(client)
        return client
      },
    },
  } as unknown as Parameters<typeof kue.createQueue>[0])
  // kue made its shared client at its first event publish, in practice when the first job was saved or
  // started. It now publishes almost nothing, so the first read of a popped job would make it, and a
  // client that is not connected yet fails that read unless offline queueing is on: the job would be
  // lost. Made here, it connects with the queue's own client, and queueReady waits for both.
  kueRedis.client()
  dropErrorsAfterShutdown(queue)
  let down = false
  queue.on('error', (err: Error) => {
    if (!down) logger.warn({ err: err.message }, 'queue redis error')
    down = true
  })
  return queue
}

interface NodeRedisClient {
  ready: boolean
  once(event: 'ready', listener: () => void): void
  removeListener(event: 'ready', listener: () => void): void
}

/** Resolves once kue's Redis connections are up (the queue's and kue's shared one), or rejects after `timeoutMs`. */
export async function queueReady(queue: Queue, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  await clientReady((queue as unknown as { client: NodeRedisClient }).client, timeoutMs)
  await clientReady(kueRedis.client(), Math.max(0, deadline - Date.now()))
}

function clientReady(client: NodeRedisClient, timeoutMs: number): Promise<void> {
  if (client.ready) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      clearTimeout(timer)
      resolve()
    }
    const timer = setTimeout(() => {
      client.removeListener('ready', onReady)
      reject(new Error(`queue: Redis not ready after ${timeoutMs} ms`))
    }, timeoutMs)
    client.once('ready', onReady)
  })
}

export interface QueueCounts {
  waiting: number
  active: number
  delayed: number
  failed: number
  completed: number
}

function count(queue: Queue, method: 'inactiveCount' | 'activeCount' | 'delayedCount' | 'failedCount' | 'completeCount'): Promise<number> {
  return new Promise((resolve, reject) => {
    ;(queue[method] as (type: string, cb: (err: Error | null, n: number) => void) => void).call(
      queue,
      TRANSACTION_JOB,
      (err, n) => (err ? reject(err) : resolve(n)),
    )
  })
}

export async function queueCounts(queue: Queue): Promise<QueueCounts> {
  const [waiting, active, delayed, failed, completed] = await Promise.all([
    count(queue, 'inactiveCount'),
    count(queue, 'activeCount'),
    count(queue, 'delayedCount'),
    count(queue, 'failedCount'),
    count(queue, 'completeCount'),
  ])
  return { waiting, active, delayed, failed, completed }
}

/** Stops taking jobs, waits up to `timeoutMs` for the ones in flight, and closes kue's Redis clients. */
export function closeQueue(queue: Queue, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    queue.shutdown(timeoutMs, (err?: Error) => {
      // kue reports jobs it had to abandon; they are failed back to the queue and retried, so not fatal.
      void err
      resolve()
    })
  })
}
