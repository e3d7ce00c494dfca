import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AuthConfig } from '../../../services/auth-api/config.ts'
import { start, type AuthOptions } from '../../../services/auth-api/index.ts'
import { scryptHasher, type PasswordHasher } from '../../../services/auth-api/passwords.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'

/** A secret that is easy to grep for in logs. */
export const JWT_SECRET = `test-jwt-secret-${randomBytes(16).toString('hex')}`

export function testConfig(redisUrl: string, overrides: Partial<AuthConfig> = {}): AuthConfig {
  return {
    HTTP_PORT: 0,
    HTTP_HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    JWT_SECRET,
    TOKEN_TTL_SECONDS: 30,
    LOGIN_FAILURES_PER_USER: 10,
    LOGIN_FAILURES_PER_ADDRESS: 100,
    LOGIN_FAILURE_WINDOW_SECONDS: 900,
    LOG_LEVEL: 'debug',
    SHUTDOWN_TIMEOUT_MS: 2000,
    ...overrides,
  }
}

/** Wraps a hasher to record every call: which stored hash each verify ran against, and how many run now. */
export function countingHasher(inner: PasswordHasher = scryptHasher) {
  const calls = { hashed: [] as string[], verifiedAgainst: [] as string[], inFlight: 0 }
  const hasher: PasswordHasher = {
    hash: async (password) => {
      const hash = await inner.hash(password)
      calls.hashed.push(hash)
      return hash
    },
    verify: async (password, stored) => {
      calls.verifiedAgainst.push(stored)
      calls.inFlight++
      try {
        return await inner.verify(password, stored)
      } finally {
        calls.inFlight--
      }
    },
  }
  return { hasher, calls }
}

export interface TestAuth {
  url: string
  lines: string[]
  stop(): Promise<void>
}

/** Starts the Auth API on 127.0.0.1 and a random port, logging into memory. */
export async function startAuth(config: AuthConfig, options: AuthOptions = {}): Promise<TestAuth> {
  const { logger, lines } = memoryLogger()
  const service = await start(config, logger, options)
  return { url: `http://127.0.0.1:${service.port}`, lines, stop: () => service.stop() }
}

export function postForm(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/token`, { method: 'POST', body: new URLSearchParams(fields), headers })
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/token`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } })
}

export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(5)
  }
}
