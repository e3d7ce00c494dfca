/** An error whose status and message are safe to show to the client. */
export class HttpError extends Error {
  override name = 'HttpError'
  readonly status: number
  readonly headers: Record<string, string>
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.status = status
    this.headers = headers
  }
}

export const unprocessable = (message: string): HttpError => new HttpError(422, message)

/**
 * The 422 for the fields a body schema (additionalProperties: false) does not know, from ajv's errors, or
 * undefined when there are none. Names are quoted and cut short: they are the client's text.
 */
export function unknownFieldsError(errors: ReadonlyArray<{ keyword: string; params: Record<string, unknown> }>): HttpError | undefined {
  const names = errors.filter((error) => error.keyword === 'additionalProperties').map((error) => String(error.params.additionalProperty))
  if (names.length === 0) return undefined
  const shown = names.slice(0, 5).map((name) => JSON.stringify(name.slice(0, 40)))
  const more = names.length > 5 ? ` and ${names.length - 5} more` : ''
  return unprocessable(`Unknown field${names.length > 1 ? 's' : ''}: ${shown.join(', ')}${more}`)
}
export const unauthorized = (message = 'Invalid or expired token'): HttpError =>
  new HttpError(401, message, { 'WWW-Authenticate': 'Bearer' })
export const forbidden = (message: string): HttpError => new HttpError(403, message)
export const notFound = (message = 'Not found'): HttpError => new HttpError(404, message)
export const unavailable = (message = 'Service temporarily unavailable, try again shortly'): HttpError =>
  new HttpError(503, message, { 'Retry-After': '1' })

// Redis (ioredis, or node_redis inside kue) failing in a way that means "down, full or starting":
// the client should retry later, so these become 503, never 500.
const unavailablePatterns = [
  /Stream isn't writeable/,
  /Connection is closed/,
  /Command timed out/,
  /timed out/i,
  /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT/,
  /^OOM /,
  /^LOADING /,
  /^READONLY /,
  /^MISCONF /,
  /^NOAUTH /,
  /enable_offline_queue|offline queue/i,
  /The connection is already closed|connection (was )?(lost|closed)/i,
]

export function isDependencyUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  if (err.name === 'MaxRetriesPerRequestError' || err.name === 'AbortError') return true
  const code = (err as { code?: unknown }).code
  if (code === 'UNCERTAIN_STATE' || code === 'NR_CLOSED' || code === 'CONNECTION_BROKEN') return true
  // A MULTI that Redis discarded because it refused a command inside it: full Redis refuses every
  // command queued in a MULTI, reads included. ioredis keeps the refusals in previousErrors.
  const previous = (err as { previousErrors?: unknown }).previousErrors
  if (/^EXECABORT /.test(err.message) && Array.isArray(previous) && previous.some(isDependencyUnavailable)) return true
  return unavailablePatterns.some((pattern) => pattern.test(err.message))
}

/** Resolves or rejects like `promise`, but rejects with a 503 once `ms` pass: a dependency must not hang a request. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(unavailable(), { cause: `${what} timed out after ${ms} ms` })), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
