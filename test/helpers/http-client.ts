// A small HTTP client for load and fault tests: node:http with a keep-alive agent (as a real client
// and nginx's upstream pool behave), a hard timeout per request (a hang is a result, not a stuck test),
// and a reply that records its status, its latency and its JSON body.
import { Agent, type IncomingHttpHeaders, request as httpRequest } from 'node:http'

export interface HttpReply {
  status: number
  headers: IncomingHttpHeaders
  text: string
  /** The parsed body when it is JSON, else undefined. */
  json: unknown
  ms: number
}

export interface HttpOptions {
  method?: string
  headers?: Record<string, string>
  /** A string or Buffer is sent as is; anything else as JSON (with content-type application/json). */
  body?: unknown
  timeoutMs?: number
  agent?: Agent
}

/** A failure to get any HTTP answer (refused, reset, timed out): `code` says which. */
export class NoReply extends Error {
  override name = 'NoReply'
  readonly code: string
  readonly ms: number
  constructor(code: string, message: string, ms: number) {
    super(message)
    this.code = code
    this.ms = ms
  }
}

export const keepAliveAgent = (maxSockets = 64): Agent => new Agent({ keepAlive: true, maxSockets })

const defaultAgent = keepAliveAgent()

export function request(url: string, options: HttpOptions = {}): Promise<HttpReply> {
  const { method = 'GET', timeoutMs = 10_000, agent = defaultAgent } = options
  const headers: Record<string, string> = { ...options.headers }
  let payload: Buffer | undefined
  if (options.body !== undefined) {
    if (typeof options.body === 'string' || Buffer.isBuffer(options.body)) {
      payload = Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body)
    } else {
      payload = Buffer.from(JSON.stringify(options.body))
      headers['content-type'] ??= 'application/json'
    }
    headers['content-length'] = String(payload.length)
  }
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', (err) => fail((err as NodeJS.ErrnoException).code ?? 'ERESPONSE', err.message))
      res.on('end', () => {
        clearTimeout(timer)
        const text = Buffer.concat(chunks).toString('utf8')
        let json: unknown
        try {
          json = text === '' ? undefined : JSON.parse(text)
        } catch {
          json = undefined
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json, ms: performance.now() - started })
      })
    })
    let settled = false
    const fail = (code: string, message: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      req.destroy()
      reject(new NoReply(code, `${method} ${url}: ${message}`, performance.now() - started))
    }
    const timer = setTimeout(() => fail('TIMEOUT', `no answer within ${timeoutMs} ms`), timeoutMs)
    req.on('error', (err) => fail((err as NodeJS.ErrnoException).code ?? 'EREQUEST', err.message))
    req.end(payload)
  })
}

/** The status of a reply, or the code of a failure to get one ("ECONNRESET", "TIMEOUT"...). */
export async function outcome(promise: Promise<HttpReply>): Promise<{ status: number | string; reply?: HttpReply; ms: number }> {
  try {
    const reply = await promise
    return { status: reply.status, reply, ms: reply.ms }
  } catch (err) {
    if (err instanceof NoReply) return { status: err.code, ms: err.ms }
    throw err
  }
}
