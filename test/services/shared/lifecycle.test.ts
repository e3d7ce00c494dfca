import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { freePort } from '../../helpers/ports.ts'
import { startRedis } from '../../helpers/redis-server.ts'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const secret = 'lifecycle-test-secret-0123456789abcdef'

// Each entry as PM2 runs it (a real process), on loopback, against a real Redis.
for (const [app, entry] of [['auth', 'services/auth-api/main.ts'], ['transactions', 'services/transaction-api/main.ts'], ['loyalty', 'services/loyalty-worker/main.ts']] as const) {
  t.test(`when ${entry} gets SIGTERM, then it stops gracefully and exits 0`, async (t) => {
    const redis = await startRedis()
    t.teardown(() => redis.stop())
    const port = await freePort()
    const child = spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: root,
      env: { PATH: process.env.PATH, JWT_SECRET: secret, REDIS_URL: redis.urlOf(app), HTTP_PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    t.teardown(() => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    const deadline = Date.now() + 20_000
    let health: Response | undefined
    while (health === undefined && Date.now() < deadline) {
      health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined)
      if (health === undefined) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    t.equal(health?.status, 200, 'healthy on loopback')
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    const [code] = await exited
    t.equal(code, 0, 'exit code 0')
    t.match(output, /"signal":"SIGTERM","msg":"[a-z-]+ stopping"/)
    t.match(output, /"msg":"[a-z-]+ stopped"/)
    t.notMatch(output, secret, 'the secret is never logged')
  })
}
