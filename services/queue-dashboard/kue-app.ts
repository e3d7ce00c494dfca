import kue from 'kue'
import type { RequestHandler } from 'express'

/**
 * kue's web UI and JSON API (an express 4 app inside kue). Its routes take the process's queue (kue's
 * singleton) when first loaded, so the platform's queue, with its Redis URL and password, must exist
 * before this is called: createQueue first. One per process, like the queue.
 */
export function kueDashboard(title: string): RequestHandler {
  const app = kue.app
  app.set('title', title)
  // Express 4 announces itself on every answer by default; the platform's apps never do.
  app.disable('x-powered-by')
  return app as unknown as RequestHandler
}
