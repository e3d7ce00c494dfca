import t from 'tap'
import { consumeTransactionJobs, type Job } from '../../../../services/shared/queue/index.ts'
import { enqueueTransaction, openQueue } from '../../../helpers/kue-save.ts'
import { memoryLogger } from '../../../helpers/log-sink.ts'
import { startRedis } from '../../../helpers/redis-server.ts'
import { transactionEvent, waitFor } from '../../loyalty-worker/fixtures.ts'

/** Calls of each Redis command so far (INFO commandstats). */
async function calls(info: string): Promise<Record<string, number>> {
  return Object.fromEntries([...info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]))
}

t.test('when a transaction job succeeds, then kue removes it without first writing a completion its removal undoes', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger('info')
  const queue = await openQueue(t, redis.url, logger, { offlineQueue: true })
  const done: string[] = []
  const consumer = consumeTransactionJobs(queue, redis.client, {
    concurrency: 2,
    logger,
    handler: (job: Job, finish) => {
      done.push(String(job.id))
      finish(null, { stamps_awarded: 1 })
    },
  })
  t.teardown(() => consumer.stop())
  const before = await calls(await redis.client.info('commandstats'))
  const ids = [await enqueueTransaction(queue, transactionEvent(1)), await enqueueTransaction(queue, transactionEvent(2))]
  await waitFor('both jobs removed', async () => done.length === 2 && (await redis.client.exists(...ids.map((id) => `q:job:${id}`))) === 0)
  const after = await calls(await redis.client.info('commandstats'))
  t.same(done.sort(), ids.sort())
  for (const set of ['q:jobs', 'q:jobs:active', 'q:jobs:transaction:active', 'q:jobs:complete', 'q:jobs:transaction:complete', 'q:jobs:inactive']) {
    t.equal(await redis.client.zcard(set), 0, `${set} is empty`)
  }
  // kue's Job#attempt, which a completion runs before the removal, is its only HINCRBY: it did not run.
  t.equal((after.hincrby ?? 0) - (before.hincrby ?? 0), 0, 'no attempt counted')
})

t.test('when a transaction job fails, then kue still records the failed attempt and keeps the job for its retry', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const { logger } = memoryLogger('info')
  const queue = await openQueue(t, redis.url, logger, { offlineQueue: true })
  const consumer = consumeTransactionJobs(queue, redis.client, { concurrency: 1, logger, handler: (_job: Job, finish) => finish(new Error('try again')) })
  t.teardown(() => consumer.stop())
  const id = await enqueueTransaction(queue, transactionEvent(1))
  const attempts = await waitFor('the attempt recorded', async () => Number(await redis.client.hget(`q:job:${id}`, 'attempts')) || undefined)
  t.ok(attempts >= 1, 'the failed attempt is counted')
  t.ok((await redis.client.exists(`q:job:${id}`)) === 1, 'the job is kept for its retry')
})
