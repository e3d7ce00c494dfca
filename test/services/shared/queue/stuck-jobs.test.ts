import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { watchStuckJobs } from '../../../../services/shared/queue/stuck-jobs.ts'
import { TRANSACTION_JOB } from '../../../../services/shared/queue/index.ts'
import { closeRedis, connectRedis, createRedis } from '../../../../services/shared/redis.ts'
import { memoryLogger } from '../../../helpers/log-sink.ts'
import { startRedis } from '../../../helpers/redis-server.ts'
import { waitFor } from '../../loyalty-worker/fixtures.ts'

const inactive = `q:jobs:${TRANSACTION_JOB}:inactive`
const tokens = `q:${TRANSACTION_JOB}:jobs`

t.test('when waiting jobs have fewer tokens than jobs, then the repair pushes the missing ones, once', async (t) => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const redis = createRedis(server.url, { name: 'stuck-test' })
  await connectRedis(redis)
  t.teardown(() => closeRedis(redis))
  await server.client.zadd(inactive, 0, '01|1', 0, '01|2', 0, '01|3')
  await server.client.lpush(tokens, 1)
  const { logger, entries } = memoryLogger()
  const stop = watchStuckJobs(redis, { type: TRANSACTION_JOB, intervalMs: 100, logger })
  t.teardown(stop)
  await waitFor('the tokens', async () => (await server.client.llen(tokens)) === 3)
  await sleep(350)
  t.equal(await server.client.llen(tokens), 3, 'one token per waiting job, not more')
  t.match(entries().find((e) => e.msg === 'woke workers for jobs that had lost their tokens'), { tokens: 2 })
})

t.test('when a run fails (Redis full, down, restarted), then the next runs still repair', async (t) => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const redis = createRedis(server.url, { name: 'stuck-test' })
  await connectRedis(redis)
  t.teardown(() => closeRedis(redis))
  await server.client.zadd(inactive, 0, '01|1', 0, '01|2')
  // Full: kue's own watcher stops for good at the refused LPUSH.
  await server.client.config('SET', 'maxmemory', '1')
  const { logger, entries } = memoryLogger()
  const stop = watchStuckJobs(redis, { type: TRANSACTION_JOB, intervalMs: 100, logger })
  t.teardown(stop)
  await waitFor('a failed run', async () => entries().some((e) => e.msg === 'stuck job repair failed' && /OOM/.test(String(e.err))))
  t.equal(await server.client.llen(tokens), 0, 'nothing pushed while full')
  await server.client.config('SET', 'maxmemory', '0')
  // A restart drops the loaded script too.
  await server.kill()
  await server.start()
  await waitFor('the repair after the restart', async () => (await server.client.llen(tokens).catch(() => 0)) === 2, 10_000)
  t.pass('repaired once Redis had room and was back')
})
