import { randomBytes } from 'node:crypto'
import type { Logger } from '../shared/logger.ts'
import { closeRedis, connectRedis, createRedis } from '../shared/redis.ts'
import { listen, type RunningServer } from '../shared/server.ts'
import { createAuthApp } from './app.ts'
import type { AuthConfig } from './config.ts'
import { createVerifiedCredentials, type VerifiedCredentials } from './credentials-cache.ts'
import { createLogin } from './login.ts'
import { createLoginLimiter } from './login-limit.ts'
import { scryptHasher, type PasswordHasher } from './passwords.ts'

export interface AuthOptions {
  /** Tests inject a counting hasher or their own cache. */
  hasher?: PasswordHasher
  verified?: VerifiedCredentials
}

export async function start(
  config: AuthConfig,
  logger: Logger,
  options: AuthOptions = {},
): Promise<{ port: number; stop(): Promise<void> }> {
  const hasher = options.hasher ?? scryptHasher
  const redis = createRedis(config.REDIS_URL, { name: 'auth-api', logger })
  await connectRedis(redis)
  let server: RunningServer
  try {
    // Made once, so that checking an unknown user costs exactly what checking a real one does.
    const dummyHash = await hasher.hash(randomBytes(32).toString('base64'))
    const verified = options.verified ?? createVerifiedCredentials()
    const login = createLogin({ redis, hasher, verified, dummyHash, logger })
    const limiter = createLoginLimiter(
      redis,
      { perUser: config.LOGIN_FAILURES_PER_USER, perAddress: config.LOGIN_FAILURES_PER_ADDRESS, windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS },
      logger,
    )
    const app = createAuthApp(logger, { redis, login, limiter, jwtSecret: config.JWT_SECRET, tokenTtlSeconds: config.TOKEN_TTL_SECONDS })
    server = await listen(app, config.HTTP_PORT, config.HTTP_HOST)
  } catch (err) {
    await closeRedis(redis)
    throw err
  }
  logger.info({ port: server.port, token_ttl_seconds: config.TOKEN_TTL_SECONDS }, 'auth-api listening')
  return {
    port: server.port,
    stop: async () => {
      await server.close()
      await closeRedis(redis)
    },
  }
}
