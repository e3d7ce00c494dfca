// `node --import tsx bench/request-log-micro.ts`: what a request's log line costs the serving process.
// One express app, three ways, in this process, the rounds interleaved: the platform's own
// (`createHttpApp`: pino and its request-line middleware, services/shared/http.ts), pino-http in that
// middleware's place (set up to write the same line), and no request logging at all (the floor).
// autocannon (c=10) runs in this process too: its share is the same in every variant, so the differences
// are the logging's. Lines go to a batched sink that only counts them (PM2's share is scenario 3's).
// Why pino-http is not used, and the figures: docs/performance.md, "Logging: pino".
import { randomUUID } from 'node:crypto'
import autocannon from 'autocannon'
import express, { type Express, type Request, type Response } from 'express'
import { pinoHttp } from 'pino-http'
import { createHttpApp } from '../services/shared/http.ts'
import { batchedSink, createLogger } from '../services/shared/logger.ts'
import { listen } from '../services/shared/server.ts'
import { figure } from './lib/stats.ts'

const ROUNDS = 5
const SECONDS = 4
let lines = 0
const logger = createLogger({ level: 'info', bindings: { service: 'bench' }, sink: batchedSink((chunk) => (lines += chunk.split('\n').length - 1)).sink })
const route = (app: Express) => app.post('/transactions', (req, res) => void res.status(202).json({ accepted: true, amount: (req.body as { amount?: unknown }).amount }))

function bareApp(middleware?: express.RequestHandler): Express {
  const app = express()
  app.disable('x-powered-by')
  if (middleware !== undefined) app.use(middleware)
  app.use(express.json({ limit: '16kb' }))
  app.use(express.urlencoded({ limit: '16kb', extended: false }))
  route(app)
  return app
}

const pinoHttpMiddleware = pinoHttp<Request, Response>({
  logger,
  quietReqLogger: true,
  quietResLogger: true,
  customAttributeKeys: { reqId: 'req_id' },
  wrapSerializers: false,
  serializers: { req: () => undefined },
  genReqId: (req, res) => {
    const id = typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : randomUUID()
    res.setHeader('X-Request-Id', id)
    return id
  },
  customSuccessMessage: () => 'request',
  customSuccessObject: (req, res, { responseTime }: { responseTime: number }) => ({ method: req.method, path: req.path, status: res.statusCode, ms: responseTime }),
})

const variants: Record<string, () => Express> = {
  'platform (pino + its request line)': () => createHttpApp(logger, route),
  'pino-http instead': () => bareApp(pinoHttpMiddleware),
  'no request logging': () => bareApp(),
}

async function round(make: () => Express): Promise<{ rps: number; cpuUs: number; linesPerRequest: number }> {
  const server = await listen(make(), 0, '127.0.0.1')
  const linesBefore = lines
  const cpu = process.cpuUsage()
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}/transactions`,
    requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: 2000, currency: 'GBP' }) }],
    connections: 10,
    duration: SECONDS,
  })
  const used = process.cpuUsage(cpu)
  await server.close()
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`)
  return { rps: result.requests.average, cpuUs: (used.user + used.system) / result.requests.total, linesPerRequest: (lines - linesBefore) / result.requests.total }
}

const results: Record<string, { rps: number[]; cpuUs: number[]; lines: number[] }> = {}
for (let i = 0; i < ROUNDS; i++) {
  for (const [name, make] of Object.entries(variants)) {
    const r = await round(make)
    const into = (results[name] ??= { rps: [], cpuUs: [], lines: [] })
    into.rps.push(r.rps)
    into.cpuUs.push(r.cpuUs)
    into.lines.push(r.linesPerRequest)
  }
}
console.log(`Node ${process.version}, ${ROUNDS} interleaved rounds of ${SECONDS} s, c=10; medians (range)`)
const shown = (samples: number[], digits = 0) => {
  const { median, min, max } = figure(samples)
  return `${median.toFixed(digits)} (${min.toFixed(digits)}-${max.toFixed(digits)})`
}
for (const [name, r] of Object.entries(results)) {
  console.log(`${name.padEnd(36)} ${shown(r.rps)} req/s   ${shown(r.cpuUs)} µs CPU per request (server + load generator)   ${figure(r.lines).median.toFixed(2)} lines per request`)
}
process.exit(0)
