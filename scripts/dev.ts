// `npm run dev`: every app of platform.json from source (tsx), against the Redis at REDIS_URL, with their
// logs interleaved on stdout. For a full platform with nginx and PM2, provision a VM instead (`vagrant up`).
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appNamesOf, defaultPortOf, platform, sourceEntryOf } from '../services/shared/platform.ts'

const services = appNamesOf(platform).map((name) => ({
  name,
  entry: sourceEntryOf(platform, name),
  portSetting: platform.apps[name]!.port,
  port: defaultPortOf(platform, name),
}))

const env = { ...process.env }
if (!env.JWT_SECRET) {
  // The three services must share one secret; a random one is fine for a single dev session.
  env.JWT_SECRET = randomBytes(48).toString('base64')
  process.stderr.write('dev: JWT_SECRET is not set, using a random secret for this run\n')
}
if (!env.QUEUE_DASHBOARD_PASSWORD) {
  env.QUEUE_DASHBOARD_PASSWORD = randomBytes(18).toString('base64url')
  process.stderr.write('dev: QUEUE_DASHBOARD_PASSWORD is not set, the dashboard runs with a random one (set it to log in)\n')
}

const children: ChildProcess[] = services.map(({ name, entry, portSetting, port }) => {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    env: { ...env, HTTP_PORT: env[portSetting] ?? String(port) },
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
