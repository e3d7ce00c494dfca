import type { Express, RequestHandler } from 'express'
import { HttpError, withTimeout } from '../shared/errors.ts'
import { healthRoute, type HealthCheck } from '../shared/health.ts'
import { createHttpApp } from '../shared/http.ts'
import type { Logger } from '../shared/logger.ts'
import type { Queue } from '../shared/queue/index.ts'
import { type AttemptLimit, requireLogin } from './basic-auth.ts'
import { pageHeaders } from './page-headers.ts'
import { refuseCrossSite } from './same-origin.ts'

export interface DashboardAppDependencies {
  queue: Queue
  /** kue's own express app (its web UI and JSON API), see kue-app.ts. */
  kueApp: RequestHandler
  user: string
  password: string
  /** Failed logins per address before a 429 (tests use small ones); default basic-auth.ts's. */
  attemptLimit?: AttemptLimit
}

interface NodeRedisClient {
  ping(callback: (err: Error | null) => void): unknown
}

/** Probes kue's Redis client: the dashboard shows nothing without it. */
const queueCheck =
  (queue: Queue): HealthCheck =>
  async () => {
    const client = (queue as unknown as { client: NodeRedisClient | null }).client
    if (client === null) throw new Error('queue is closed')
    await withTimeout(new Promise<void>((resolve, reject) => client.ping((err) => (err ? reject(err) : resolve()))), 1000, 'queue ping')
  }

/**
 * GET /health (no login: it tells nothing but up or down), then, behind HTTP basic auth, kue's UI and
 * JSON API at the root: nginx strips the /queue prefix and kue's pages link relatively, so they work
 * under it unchanged. Jobs are created by the Transaction API only: kue's POST /job is refused.
 * Every answer carries the page headers (CSP, no framing); changes from another site are refused.
 */
export function createDashboardApp(logger: Logger, deps: DashboardAppDependencies): Express {
  return createHttpApp(logger, (app) => {
    app.use(pageHeaders)
    app.get('/health', healthRoute({ queue: queueCheck(deps.queue) }))
    app.use(requireLogin(deps.user, deps.password, deps.attemptLimit))
    app.use(refuseCrossSite)
    app.post('/job', () => {
      throw new HttpError(405, 'Jobs are created by the Transaction API (POST /transactions), not by the dashboard', { Allow: 'GET, PUT, DELETE' })
    })
    app.use(deps.kueApp)
  })
}
