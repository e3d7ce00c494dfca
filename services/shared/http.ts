import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express'
import { HttpError, isDependencyUnavailable, notFound } from './errors.ts'
import type { Logger } from './logger.ts'

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      id: string
      log: Logger
    }
  }
}

const BODY_LIMIT = '16kb'
// An incoming X-Request-Id is kept only if it is short and plain, so it cannot forge log lines.
const SAFE_REQUEST_ID = /^[\w.:-]{1,128}$/

const requestContext =
  (logger: Logger): RequestHandler =>
  (req, res, next) => {
    const incoming = req.get('x-request-id')
    req.id = incoming !== undefined && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID()
    req.log = logger.child({ req_id: req.id })
    res.setHeader('X-Request-Id', req.id)
    const started = process.hrtime.bigint()
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      req.log.info({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request')
    })
    next()
  }

/** POST bodies must be JSON or a form (as the original's clients send them). */
export const requireBody: RequestHandler = (req, _res, next) => {
  if (!req.is(['application/json', 'application/x-www-form-urlencoded'])) {
    next(new HttpError(415, 'Content-Type must be application/json or application/x-www-form-urlencoded'))
    return
  }
  if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
    next(new HttpError(400, 'Request body must be a JSON object'))
    return
  }
  next()
}

// body-parser's error types, mapped to what the client did wrong.
const bodyParserErrors: Record<string, [number, string]> = {
  'entity.parse.failed': [400, 'Malformed JSON body'],
  'entity.too.large': [413, `Request body is larger than ${BODY_LIMIT}`],
  'encoding.unsupported': [415, 'Unsupported content encoding'],
  'charset.unsupported': [415, 'Unsupported charset'],
  'request.aborted': [400, 'Request aborted'],
  'parameters.too.many': [413, 'Too many form fields'],
}

/**
 * The 4xx status of an error that express or body-parser raised about the request itself (a path with a
 * malformed %-escape, a body whose Content-Encoding does not match it), or undefined. These say what the
 * client did wrong: never a 500.
 */
function clientErrorStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const { status, statusCode } = err as { status?: unknown; statusCode?: unknown }
  const code = status ?? statusCode
  return typeof code === 'number' && code >= 400 && code < 500 ? code : undefined
}

const errorHandler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  let status = 500
  let message = 'Internal server error'
  let headers: Record<string, string> = {}
  const parserError = bodyParserErrors[(err as { type?: string }).type ?? '']
  const clientStatus = clientErrorStatus(err)
  if (err instanceof HttpError) {
    ;({ status, message, headers } = err)
  } else if (parserError !== undefined) {
    ;[status, message] = parserError
  } else if (clientStatus !== undefined) {
    status = clientStatus
    message = STATUS_CODES[status] ?? 'Bad request'
  } else if (isDependencyUnavailable(err)) {
    status = 503
    message = 'Service temporarily unavailable, try again shortly'
    headers = { 'Retry-After': '1' }
  }
  const log = req.log ?? console
  if (status >= 500) log.error({ err, status }, 'request failed')
  else log.debug({ status, error: message }, 'request rejected')
  if (res.headersSent) return
  res.status(status).set(headers).json({ error: message })
}

/**
 * An express app with the platform's conventions: request ids, an access log line per request, JSON
 * and form bodies up to 16 kB, JSON 404s, and one error handler. `routes` mounts the service's routes.
 */
export function createHttpApp(logger: Logger, routes: (app: Express) => void): Express {
  const app = express()
  app.disable('x-powered-by')
  app.set('trust proxy', 'loopback')
  app.use(requestContext(logger))
  app.use(express.json({ limit: BODY_LIMIT, strict: true }))
  app.use(express.urlencoded({ limit: BODY_LIMIT, extended: false, parameterLimit: 50 }))
  routes(app)
  app.use((_req, _res, next) => next(notFound()))
  app.use(errorHandler)
  return app
}
