import { createLogger } from '../shared/logger.ts'
import { configOrExit, run } from '../shared/lifecycle.ts'
import { loadQueueDashboardConfig } from './config.ts'
import { start } from './index.ts'

const config = configOrExit(() => loadQueueDashboardConfig(process.env))
const logger = createLogger({ level: config.LOG_LEVEL, bindings: { service: 'queue-dashboard' } })
await run('queue-dashboard', () => start(config, logger), { logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS })
