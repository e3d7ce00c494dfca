import type { Express } from 'express'
import { healthRoute, redisCheck } from '../shared/health.ts'
import { createHttpApp, requireBody } from '../shared/http.ts'
import type { Logger } from '../shared/logger.ts'
import type { Redis } from '../shared/redis.ts'
import { signToken } from '../shared/tokens.ts'
import { readCredentials, type Login } from './login.ts'

export interface AuthAppDependencies {
  redis: Redis
  login: Login
  jwtSecret: string
  tokenTtlSeconds: number
}

/** GET /health and POST /token (form or JSON: username, password) → {"token": "<jwt>"}. */
export function createAuthApp(logger: Logger, deps: AuthAppDependencies): Express {
  const { redis, login, jwtSecret, tokenTtlSeconds } = deps
  return createHttpApp(logger, (app) => {
    app.get('/health', healthRoute({ redis: redisCheck(redis) }))

    app.post('/token', requireBody, async (req, res) => {
      const credentials = readCredentials(req.body as Record<string, unknown>)
      const user = await login(credentials)
      const token = signToken({ user_id: user.id, username: user.username, can_transact: user.can_transact }, jwtSecret, tokenTtlSeconds)
      req.log.info('token issued', { user_id: user.id })
      res.json({ token })
    })
  })
}
