// Starts a real Redis and the Transaction API on 127.0.0.1 for one test file (kue allows one queue per
// process, so one API per file), with helpers to call it.
import { Buffer } from 'node:buffer'
import jwt from 'jsonwebtoken'
import { closeQueue, createQueue, type Queue, queueReady } from '../../../services/shared/queue/index.ts'
import { signToken } from '../../../services/shared/tokens.ts'
import type { TransactionApiConfig } from '../../../services/transaction-api/config.ts'
import { start } from '../../../services/transaction-api/index.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'
import { type RedisServer, startRedis } from '../../helpers/redis-server.ts'

export const SECRET = 'test-secret-for-the-transaction-api-0123456789'

interface Teardown {
  teardown(fn: () => unknown): void
}

export interface User {
  user_id: number
  username: string
  can_transact: boolean
}

export const alice: User = { user_id: 1, username: 'alice', can_transact: true }
export const bob: User = { user_id: 2, username: 'bob', can_transact: true }
export const carol: User = { user_id: 3, username: 'carol', can_transact: false }

export const tokenFor = (user: User, ttlSeconds = 30): string => signToken(user, SECRET, ttlSeconds)

const base64url = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/** Tokens the API must refuse with a 401, by what is wrong with them. */
export function badTokens(user: User = alice): Record<string, string> {
  const claims = { user_id: user.user_id, username: user.username, can_transact: user.can_transact }
  const now = Math.floor(Date.now() / 1000)
  const valid = tokenFor(user)
  const [header, , signature] = valid.split('.')
  return {
    'alg none': `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ ...claims, iat: now, exp: now + 30 })}.`,
    HS512: jwt.sign(claims, SECRET, { algorithm: 'HS512', expiresIn: 30 }),
    'another secret': jwt.sign(claims, 'another-secret-that-is-long-enough-0123456789', { expiresIn: 30 }),
    'tampered payload': `${header}.${base64url({ ...claims, user_id: 99, iat: now, exp: now + 30 })}.${signature}`,
    'no exp': jwt.sign(claims, SECRET),
    expired: jwt.sign({ ...claims, iat: now - 60, exp: now - 30 }, SECRET),
    'not a jwt': 'not-a-jwt',
    'claims of the wrong type': jwt.sign({ user_id: '1', username: 'alice', can_transact: 'yes' }, SECRET, { expiresIn: 30 }),
  }
}

export interface Api {
  url: string
  redis: RedisServer
  log: ReturnType<typeof memoryLogger>
  /** A kue queue on the API's Redis, to count and read the jobs it wrote (kue allows one per process). */
  queue: Queue
  stop(): Promise<void>
}

export async function startApi(t: Teardown, overrides: Partial<TransactionApiConfig> = {}): Promise<Api> {
  const redis = await startRedis()
  const log = memoryLogger()
  const config: TransactionApiConfig = {
    HTTP_PORT: 0,
    HTTP_HOST: '127.0.0.1',
    REDIS_URL: redis.urlOf('transactions'),
    JWT_SECRET: SECRET,
    LOG_LEVEL: 'debug',
    SHUTDOWN_TIMEOUT_MS: 1000,
    IDEMPOTENCY_TTL_SECONDS: 86_400,
    REDIS_MEMORY_HIGH_WATER_PERCENT: 90,
    ...overrides,
  }
  const api = await start(config, log.logger)
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await api.stop()
  }
  const queue = createQueue(redis.url, log.logger)
  await queueReady(queue, 5000)
  t.teardown(async () => {
    await stop()
    await closeQueue(queue, 500)
    await redis.stop()
  })
  return { url: `http://127.0.0.1:${api.port}`, redis, log, queue, stop }
}

export interface PostOptions {
  form?: boolean
  headers?: Record<string, string>
}

/** POST /transactions with a JSON body (default) or a form body, as the original's clients sent it. */
export function postTransaction(api: Api, body: Record<string, unknown>, options: PostOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers }
  let payload: string
  if (options.form === true) {
    headers['content-type'] = 'application/x-www-form-urlencoded'
    payload = new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)])).toString()
  } else {
    headers['content-type'] = 'application/json'
    payload = JSON.stringify(body)
  }
  return fetch(`${api.url}/transactions`, { method: 'POST', headers, body: payload })
}

export function getTransaction(api: Api, id: string, token?: string): Promise<Response> {
  return fetch(`${api.url}/transactions/${id}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
}

export const json = async (response: Response): Promise<Record<string, unknown>> => (await response.json()) as Record<string, unknown>
