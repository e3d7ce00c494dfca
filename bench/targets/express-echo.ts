// Baseline: a minimal express 5 app that echoes a JSON body, on every path the benchmark posts to.
// The ceiling for an express service here. Prints {"port": n} once listening on a random loopback port.
import express from 'express'

const app = express()
app.disable('x-powered-by')
app.use(express.json({ limit: '16kb' }))
app.post('/{*path}', (req, res) => {
  res.status(202).json(req.body)
})
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`)
})
server.keepAliveTimeout = 65_000
process.on('SIGTERM', () => server.close(() => process.exit(0)))
