import { createLogger } from '../shared/logger.ts'
import { configOrExit, run } from '../shared/lifecycle.ts'
import { loadAuthConfig } from './config.ts'
import { start } from './index.ts'

const config = configOrExit(() => loadAuthConfig(process.env))
const logger = createLogger({ level: config.LOG_LEVEL, bindings: { service: 'auth-api' } })
await run('auth-api', () => start(config, logger), { logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS })
