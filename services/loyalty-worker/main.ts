import { createLogger } from '../shared/logger.ts'
import { configOrExit, run } from '../shared/lifecycle.ts'
import { loadLoyaltyWorkerConfig } from './config.ts'
import { start } from './index.ts'

const config = configOrExit(() => loadLoyaltyWorkerConfig(process.env))
const logger = createLogger({ level: config.LOG_LEVEL, bindings: { service: 'loyalty-worker', pid: process.pid } })
await run('loyalty-worker', () => start(config, logger), { logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS })
