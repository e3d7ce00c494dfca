// `npm run dev`: the three services from source (tsx), against the Redis at REDIS_URL, with their logs
// interleaved on stdout. For a full platform with nginx and PM2, provision a VM instead (`vagrant up`).
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'

const services = [
  { name: 'auth', entry: 'services/auth-api/main.ts', port: 5000 },
  { name: 'transactions', entry: 'services/transaction-api/main.ts', port: 5001 },
  { name: 'loyalty', entry: 'services/loyalty-worker/main.ts', port: 5002 },
]

const env = { ...process.env }
if (!env.JWT_SECRET) {
  // The three services must share one secret; a random one is fine for a single dev session.
  env.JWT_SECRET = randomBytes(48).toString('base64')
  process.stderr.write('dev: JWT_SECRET is not set, using a random secret for this run\n')
}

const children: ChildProcess[] = services.map(({ name, entry, port }) => {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { ...env, HTTP_PORT: env[`${name.toUpperCase()}_PORT`] ?? String(port) },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  child.on('exit', (code, signal) => {
    process.stderr.write(`dev: ${name} exited (${signal ?? code})\n`)
    shutdown()
  })
  return child
})

let stopping = false
function shutdown(): void {
  if (stopping) return
  stopping = true
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
