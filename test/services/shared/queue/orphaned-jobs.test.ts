import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { sweepOrphanedJobs } from '../../../../services/shared/queue/orphaned-jobs.ts'
import { closeQueue, createQueue, queueReady, TRANSACTION_JOB, type Queue } from '../../../../services/shared/queue/index.ts'
import { enqueueTransaction } from '../../../helpers/kue-save.ts'
import { closeRedis, connectRedis, createRedis, type Redis } from '../../../../services/shared/redis.ts'
import { memoryLogger } from '../../../helpers/log-sink.ts'
import { startRedis, type RedisServer } from '../../../helpers/redis-server.ts'
import { transactionEvent, waitFor } from '../../loyalty-worker/fixtures.ts'

let server: RedisServer
let redis: Redis
let queue: Queue

t.before(async () => {
  server = await startRedis()
  redis = createRedis(server.url, { name: 'sweep-test' })
  await connectRedis(redis)
  queue = createQueue(server.url, memoryLogger().logger)
  await queueReady(queue, 5000)
})
t.teardown(async () => {
  await closeQueue(queue, 1000)
  await closeRedis(redis)
  await server.stop()
})

const member = (id: string): string => `${String(id.length).padStart(2, '0')}|${id}`
const inactive = `q:jobs:${TRANSACTION_JOB}:inactive`

/** What a worker that dies right after popping a job leaves behind: the job in none of the type's sets. */
async function orphan(jobId: string): Promise<void> {
  await redis.zrem(inactive, member(jobId))
  await redis.lpop(`q:${TRANSACTION_JOB}:jobs`)
}

t.test('when a job was taken by a worker that died before starting it, then the second sweep puts it back', async (t) => {
  const { logger, entries } = memoryLogger()
  const lost = await enqueueTransaction(queue, transactionEvent(1))
  const waiting = await enqueueTransaction(queue, transactionEvent(1))
  await orphan(lost)
  const tokens = await redis.llen(`q:${TRANSACTION_JOB}:jobs`)

  const stop = sweepOrphanedJobs(redis, { type: TRANSACTION_JOB, intervalMs: 300, logger })
  t.teardown(stop)
  await sleep(100)
  t.equal(await redis.zscore(inactive, member(lost)), null, 'the first sweep only notes it')

  await waitFor('the job to be requeued', async () => (await redis.zscore(inactive, member(lost))) !== null)
  t.equal(await redis.llen(`q:${TRANSACTION_JOB}:jobs`), tokens + 1, 'with a token to wake a worker')
  t.equal(await redis.hget(`q:job:${lost}`, 'state'), 'inactive')
  t.not(await redis.zscore(inactive, member(waiting)), null, 'the waiting job is untouched')
  t.match(entries().find((e) => e.msg === 'requeued jobs a dead worker had taken but not started'), { job_ids: [lost] })

  await sleep(700)
  t.equal(await redis.llen(`q:${TRANSACTION_JOB}:jobs`), tokens + 1, 'requeued once, not on every sweep')
  await redis.del(`q:${TRANSACTION_JOB}:jobs`)
})

t.test('when jobs are active, delayed, failed or of another type, then the sweep leaves them alone', async (t) => {
  const { logger } = memoryLogger()
  const before = await redis.llen(`q:${TRANSACTION_JOB}:jobs`)
  const ids: Record<string, string> = {}
  for (const state of ['active', 'delayed', 'failed']) {
    const id = await enqueueTransaction(queue, transactionEvent(2))
    await orphan(id)
    await redis.zadd(`q:jobs:${TRANSACTION_JOB}:${state}`, 0, member(id))
    await redis.hset(`q:job:${id}`, 'state', state)
    ids[state] = id
  }
  const other = await enqueueTransaction(queue, transactionEvent(2))
  await orphan(other)
  await redis.hset(`q:job:${other}`, 'type', 'another-type')

  const stop = sweepOrphanedJobs(redis, { type: TRANSACTION_JOB, intervalMs: 100, logger })
  await sleep(450)
  stop()
  for (const id of [...Object.values(ids), other]) t.equal(await redis.zscore(inactive, member(id)), null, `job ${id} is not requeued`)
  t.equal(await redis.llen(`q:${TRANSACTION_JOB}:jobs`), before, "no token added")
})

t.test('when a state set lists a job that no longer exists, then the second sweep drops the entry', async (t) => {
  const { logger, entries } = memoryLogger()
  // What kue leaves when Redis fails between its steps: the job done and deleted, still listed as active.
  const ghost = await enqueueTransaction(queue, transactionEvent(3))
  await orphan(ghost)
  await redis.zadd(`q:jobs:${TRANSACTION_JOB}:active`, 0, member(ghost))
  await redis.del(`q:job:${ghost}`)
  const live = await enqueueTransaction(queue, transactionEvent(3))
  await orphan(live)
  await redis.zadd(`q:jobs:${TRANSACTION_JOB}:active`, 0, member(live))
  await redis.hset(`q:job:${live}`, 'state', 'active')

  const stop = sweepOrphanedJobs(redis, { type: TRANSACTION_JOB, intervalMs: 300, logger })
  t.teardown(stop)
  await sleep(100)
  t.not(await redis.zscore(`q:jobs:${TRANSACTION_JOB}:active`, member(ghost)), null, 'the first sweep only notes it')
  await waitFor('the ghost to be dropped', async () => (await redis.zscore(`q:jobs:${TRANSACTION_JOB}:active`, member(ghost))) === null)
  t.equal(await redis.zscore('q:jobs', member(ghost)), null, 'and from the index')
  t.not(await redis.zscore(`q:jobs:${TRANSACTION_JOB}:active`, member(live)), null, 'an active job that exists stays')
  t.match(entries().find((e) => e.msg === 'dropped queue entries of jobs that no longer exist'), { members: [member(ghost)] })
  await redis.zrem(`q:jobs:${TRANSACTION_JOB}:active`, member(live))
})

t.test('when Redis is down, then a sweep fails quietly and the next one works', async (t) => {
  const { logger, entries } = memoryLogger()
  const broken = createRedis('redis://127.0.0.1:1/0', { name: 'nowhere' })
  const stop = sweepOrphanedJobs(broken, { type: TRANSACTION_JOB, intervalMs: 50, logger })
  await sleep(200)
  stop()
  broken.disconnect()
  t.ok(entries().some((e) => e.msg === 'orphaned job sweep failed'))
})
