import { createLogger } from '../shared/logger.ts'
import { configOrExit, run } from '../shared/lifecycle.ts'
import { loadTransactionApiConfig } from './config.ts'
import { start } from './index.ts'

const config = configOrExit(() => loadTransactionApiConfig(process.env))
const logger = createLogger({ level: config.LOG_LEVEL, bindings: { service: 'transaction-api' } })
await run('transaction-api', () => start(config, logger), { logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS })
