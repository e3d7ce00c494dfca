// Scenario 1 (Redis): redis-benchmark's ops/s against a bench-owned redis-server (random port, password,
// AOF everysec as provisioned), never the platform's: the ceiling for anything built on Redis here.
import { startRedis, TEST_ADMIN_USER } from '../../test/helpers/redis-server.ts'
import { addRow, type Context } from '../lib/context.ts'
import { run } from '../lib/processes.ts'
import { figure } from '../lib/stats.ts'

const tests = ['SET', 'GET', 'HSET', 'LPUSH', 'ZADD']

export async function redisScenario(ctx: Context): Promise<void> {
  const server = await startRedis()
  const samples: Record<string, number[]> = {}
  try {
    for (let i = 0; i < ctx.settings.runs; i += 1) {
      const requests = ctx.settings.smoke ? 5000 : 100000
      const { stdout } = await run('redis-benchmark', [
        // As the harness's user: the server's `default` is off, as the platform's is.
        '-h', '127.0.0.1', '-p', String(server.port), '--user', TEST_ADMIN_USER, '-a', server.password,
        '-c', '50', '-n', String(requests), '-t', tests.join(',').toLowerCase(), '--csv',
      ])
      for (const line of stdout.split('\n')) {
        const [test, rps] = line.split(',').map((cell) => cell.replace(/"/g, ''))
        if (test === undefined || rps === undefined || !Number.isFinite(Number(rps))) continue
        const name = test.split(' ')[0]!
        ;(samples[name] ??= []).push(Number(rps))
      }
    }
  } finally {
    await server.stop()
  }
  for (const [name, values] of Object.entries(samples)) {
    addRow(ctx, { scenario: '1 baseline', measure: `redis-benchmark ${name} (c=50, no pipelining)`, unit: 'ops/s', value: figure(values) })
  }
}
