import autocannon from 'autocannon'

export interface LoadOptions {
  url: string
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: string
  connections: number
  durationSeconds: number
  /** A new body per request (e.g. distinct passwords); overrides body. */
  makeBody?: () => string
  /** Headers added to each request (e.g. a different token each time); win over headers. */
  makeHeaders?: () => Record<string, string>
  /** Sees each response body (e.g. to collect the ids of created records). */
  onBody?: (status: number, body: string) => void
}

export interface LoadResult {
  /** Responses per second (any status). */
  rps: number
  /** Responses per second with the expected status class (2xx). */
  okRps: number
  p50: number
  p99: number
  total: number
  /** Responses with a 2xx status. */
  ok: number
  seconds: number
  non2xx: number
  errors: number
}

/** One closed-loop run of autocannon (the load generator) against one URL. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const request: Record<string, unknown> = {
    method: options.method ?? 'POST',
    headers: options.headers ?? {},
  }
  const { makeBody, makeHeaders } = options
  if (makeBody !== undefined || makeHeaders !== undefined) {
    request.setupRequest = (req: Record<string, unknown>) => ({
      ...req,
      ...(makeBody !== undefined ? { body: makeBody() } : {}),
      ...(makeHeaders !== undefined ? { headers: { ...(req.headers as Record<string, string>), ...makeHeaders() } } : {}),
    })
  }
  if (makeBody === undefined && options.body !== undefined) request.body = options.body
  if (options.onBody !== undefined) {
    const onBody = options.onBody
    request.onResponse = (status: number, body: string) => onBody(status, body)
  }
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    requests: [request],
  })
  const seconds = result.duration
  const total = result.requests.total
  const ok = result['2xx']
  return {
    rps: total / seconds,
    okRps: ok / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total,
    ok,
    seconds,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  }
}
