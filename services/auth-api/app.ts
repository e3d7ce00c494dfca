import type { Express } from 'express'
import { healthRoute, redisCheck } from '../shared/health.ts'
import { createHttpApp, requireBody } from '../shared/http.ts'
import type { Logger } from '../shared/logger.ts'
import type { Redis } from '../shared/redis.ts'
import { signToken } from '../shared/tokens.ts'
import { readCredentials, type Login } from './login.ts'
import type { LoginLimiter } from './login-limit.ts'
import { HttpError } from '../shared/errors.ts'

export interface AuthAppDependencies {
  redis: Redis
  login: Login
  jwtSecret: string
  tokenTtlSeconds: number
  limiter: LoginLimiter
}

/**
 * GET /health and POST /token (form or JSON: username, password) → {"token": "<jwt>"}. A username or
 * an address with too many failed logins gets a 429 before any password is checked.
 */
export function createAuthApp(logger: Logger, deps: AuthAppDependencies): Express {
  const { redis, login, jwtSecret, tokenTtlSeconds, limiter } = deps
  return createHttpApp(logger, (app) => {
    app.get('/health', healthRoute({ redis: redisCheck(redis) }))

    app.post('/token', requireBody, async (req, res) => {
      const credentials = readCredentials(req.body as Record<string, unknown>)
      // The address nginx saw: express reads it from X-Forwarded-For, which nginx sets ('trust proxy').
      const address = req.ip ?? 'unknown'
      await limiter.check(credentials.username, address)
      const user = await login(credentials).catch(async (err: unknown) => {
        if (err instanceof HttpError && err.status === 401) await limiter.failed(credentials.username, address)
        throw err
      })
      const token = signToken({ user_id: user.id, username: user.username, can_transact: user.can_transact }, jwtSecret, tokenTtlSeconds)
      req.log.info({ user_id: user.id }, 'token issued')
      res.json({ token })
    })
  })
}
