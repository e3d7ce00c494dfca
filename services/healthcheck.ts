// The container image's HEALTHCHECK: GET /health of the service in this container, on HTTP_PORT (the
// image sets 8080), at HTTP_HOST unless that is every interface (then loopback). Exit 0 when it answers
// 200 within 2 s, else 1 with one line saying why (the runtime keeps the last few in `inspect`).
import { request } from 'node:http'

const port = Number(process.env.HTTP_PORT ?? 8080)
const configured = process.env.HTTP_HOST ?? '127.0.0.1'
const host = configured === '0.0.0.0' || configured === '::' ? '127.0.0.1' : configured

const req = request({ host, port, path: '/health', timeout: 2000 }, (res) => {
  res.resume()
  if (res.statusCode === 200) process.exit(0)
  process.stdout.write(`GET /health answered ${res.statusCode}\n`)
  process.exit(1)
})
req.on('timeout', () => req.destroy(new Error('no answer within 2 s')))
req.on('error', (err) => {
  process.stdout.write(`GET http://${host}:${port}/health: ${err.message}\n`)
  process.exit(1)
})
req.end()
