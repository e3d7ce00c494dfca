import type { Logger } from '../shared/logger.ts'
import { closeQueue, createQueue, queueReady } from '../shared/queue/index.ts'
import { listen } from '../shared/server.ts'
import { createDashboardApp } from './app.ts'
import type { AttemptLimit } from './basic-auth.ts'
import type { QueueDashboardConfig } from './config.ts'
import { kueDashboard } from './kue-app.ts'

export interface RunningQueueDashboard {
  port: number
  stop(): Promise<void>
}

// Start-up waits this long for Redis, then starts anyway: /health says 503 until Redis is up.
const QUEUE_READY_WAIT_MS = 3000

/** Starts the queue dashboard (kue's UI behind basic auth). kue keeps one queue per process: one dashboard per process. */
export async function start(config: QueueDashboardConfig, logger: Logger, options: { attemptLimit?: AttemptLimit } = {}): Promise<RunningQueueDashboard> {
  // With the offline queue: kue makes some of its Redis clients lazily, on the page's first call, and
  // without it that call fails while the new client connects ("the offline queue is deactivated"). A
  // page, unlike an API, can wait; /health still says 503 after 1 s when Redis is down.
  const queue = createQueue(config.REDIS_URL, logger, { offlineQueue: true })
  try {
    await queueReady(queue, QUEUE_READY_WAIT_MS)
  } catch (err) {
    logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'queue not ready yet, starting anyway')
  }
  let server: Awaited<ReturnType<typeof listen>>
  try {
    const app = createDashboardApp(logger, {
      queue,
      kueApp: kueDashboard('yoyo-platform queue'),
      user: config.QUEUE_DASHBOARD_USER,
      password: config.QUEUE_DASHBOARD_PASSWORD,
      ...(options.attemptLimit === undefined ? {} : { attemptLimit: options.attemptLimit }),
    })
    server = await listen(app, config.HTTP_PORT, config.HTTP_HOST)
  } catch (err) {
    await closeQueue(queue, 1000)
    throw err
  }
  logger.info({ port: server.port, user: config.QUEUE_DASHBOARD_USER }, 'queue-dashboard listening')
  return {
    port: server.port,
    stop: async () => {
      await server.close()
      await closeQueue(queue, config.SHUTDOWN_TIMEOUT_MS)
    },
  }
}
