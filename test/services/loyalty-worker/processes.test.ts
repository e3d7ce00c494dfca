import { type ChildProcessByStdio, spawn } from 'node:child_process'
import { once } from 'node:events'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { readLoyalty } from '../../../services/loyalty-worker/award.ts'
import { queueCounts } from '../../../services/shared/queue/index.ts'
import { enqueueTransaction, openQueue } from '../../helpers/kue-save.ts'
import { memoryLogger } from '../../helpers/log-sink.ts'
import { startRedis } from '../../helpers/redis-server.ts'
import { allWithStatus, produce, secret, transactionEvent, waitFor } from './fixtures.ts'

const root = fileURLToPath(new URL('../../../', import.meta.url))
const STAMPS_PER_VOUCHER = 3

interface WorkerProcess {
  child: ChildProcessByStdio<null, Readable, Readable>
  logs: Record<string, unknown>[]
  port: () => number | undefined
}

function spawnWorker(redisUrl: string): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/loyalty-worker/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      REDIS_URL: redisUrl,
      JWT_SECRET: secret,
      HTTP_PORT: '0',
      LOYALTY_STAMPS_PER_VOUCHER: String(STAMPS_PER_VOUCHER),
      LOYALTY_CONCURRENCY: '4',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_MS: '3000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: Record<string, unknown>[] = []
  let buffered = ''
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    for (const line of lines) if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
  })
  child.stderr.resume()
  return { child, logs, port: () => logs.find((entry) => entry.msg === 'loyalty-worker listening')?.port as number | undefined }
}

async function stopWorker(worker: WorkerProcess): Promise<number | null> {
  const { child } = worker
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
  const exited = once(child, 'exit') as Promise<[number | null]>
  child.kill('SIGTERM')
  const killer = setTimeout(() => child.kill('SIGKILL'), 8000)
  const [code] = await exited
  clearTimeout(killer)
  return code
}

t.test('when three worker processes consume one queue with duplicated jobs, then each transaction is awarded exactly once', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const workers = [spawnWorker(redis.urlOf('loyalty')), spawnWorker(redis.urlOf('loyalty')), spawnWorker(redis.urlOf('loyalty'))]
  t.teardown(() => Promise.all(workers.map(stopWorker)))
  await waitFor('the workers to listen', async () => workers.every((w) => w.port() !== undefined), 30_000)

  const queue = await openQueue(t, redis.url, memoryLogger().logger)
  const users = [101, 102, 103, 104]
  const perUser = 15
  const ids: string[] = []
  for (let i = 0; i < users.length * perUser; i++) {
    const event = transactionEvent(users[i % users.length]!)
    ids.push(event.transaction_id)
    await produce(redis.client, queue, event)
    // Delivered once, twice or three times, back to back so that different workers race on them.
    for (let extra = 0; extra < i % 3; extra++) await enqueueTransaction(queue, event)
  }
  const records = await allWithStatus(redis.client, ids, 'completed', 30_000)
  await waitFor('the queue to drain', async () => {
    const counts = await queueCounts(queue)
    return counts.waiting + counts.active + counts.delayed === 0
  })
  t.equal((await queueCounts(queue)).failed, 0, 'no job failed')

  for (const userId of users) {
    // Every voucher, to check each against its transaction.
    const account = await readLoyalty(redis.client, userId, { start: 0, limit: perUser })
    t.equal(account.transactions, perUser, `user ${userId}: one transaction counted per distinct transaction`)
    t.equal(account.stamps + account.vouchers_total * STAMPS_PER_VOUCHER, perUser, `user ${userId}: stamps + vouchers * ${STAMPS_PER_VOUCHER}`)
    for (const voucher of account.vouchers) {
      t.equal(records.get(voucher.transaction_id)?.loyalty?.voucher_id, voucher.id, 'each voucher is the one its transaction recorded')
    }
  }

  const logs = workers.flatMap((w) => w.logs)
  t.equal(logs.filter((e) => e.msg === 'transaction awarded').length, ids.length, 'one award logged per transaction')
  t.equal(logs.filter((e) => e.msg === 'transaction already awarded, duplicate delivery ignored').length, ids.length, 'every duplicate was recognised')
  t.ok(workers.filter((w) => w.logs.some((e) => e.msg === 'transaction awarded')).length >= 2, 'the work was shared between processes')

  const res = await fetch(`http://127.0.0.1:${workers[0]!.port()}/health`)
  t.equal(res.status, 200)
  t.match(await res.json(), { healthy: true, queue: { waiting: 0, active: 0, delayed: 0, failed: 0 } })

  const codes = await Promise.all(workers.map(stopWorker))
  t.same(codes, [0, 0, 0], 'each process exits 0 on SIGTERM')
  t.ok(workers.every((w) => w.logs.some((e) => e.msg === 'loyalty-worker stopped')))
})

t.test('when a worker process is killed mid-work, then the jobs it had taken are recovered and each transaction is awarded once', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const queue = await openQueue(t, redis.url, memoryLogger().logger)
  const ids: string[] = []
  const queueWork = async (batches: number): Promise<void> => {
    for (let batch = 0; batch < batches; batch++) {
      const events = Array.from({ length: 100 }, (_, i) => transactionEvent(200 + (i % 2)))
      ids.push(...events.map((event) => event.transaction_id))
      await Promise.all(events.map((event) => produce(redis.client, queue, event)))
    }
  }
  await queueWork(20)

  const doomed = spawnWorker(redis.urlOf('loyalty'))
  t.teardown(() => stopWorker(doomed))
  const awarded = () => doomed.logs.filter((e) => e.msg === 'transaction awarded').length
  // The worker drains a few thousand jobs/s, so on a busy machine it may be done before the test sees its
  // first awards. Frozen (SIGSTOP), it can be looked at: killed only while it holds jobs, else given more.
  // Taken jobs are either active (the job TTL retries them) or, if the worker died between popping and
  // starting them, in no state set at all (the orphan sweep requeues them).
  let inHand = { active: 0, orphaned: 0 }
  for (let attempt = 1; attempt <= 5 && inHand.active + inHand.orphaned === 0; attempt++) {
    const before = awarded()
    await waitFor('some transactions to be awarded', async () => awarded() >= before + 30, 30_000)
    doomed.child.kill('SIGSTOP')
    const counts = await queueCounts(queue)
    const orphaned = (await redis.client.zcard('q:jobs')) - counts.waiting - counts.active - counts.delayed - counts.failed - counts.completed
    inHand = { active: counts.active, orphaned }
    if (inHand.active + inHand.orphaned === 0) {
      await queueWork(20)
      doomed.child.kill('SIGCONT')
    }
  }
  const exited = once(doomed.child, 'exit')
  doomed.child.kill('SIGKILL')
  await exited
  t.ok(inHand.active + inHand.orphaned > 0, `the killed worker left ${inHand.active} jobs active and ${inHand.orphaned} taken but not started`)

  const survivor = spawnWorker(redis.urlOf('loyalty'))
  t.teardown(() => stopWorker(survivor))
  await allWithStatus(redis.client, ids, 'completed', 40_000)
  await waitFor('the queue to drain', async () => {
    const counts = await queueCounts(queue)
    return counts.waiting + counts.active + counts.delayed === 0
  })
  for (const userId of [200, 201]) {
    const account = await readLoyalty(redis.client, userId)
    // Every batch is half user 200's, half user 201's.
    t.equal(account.transactions, ids.length / 2, `user ${userId}: every transaction counted once`)
    t.equal(account.stamps + account.vouchers_total * STAMPS_PER_VOUCHER, ids.length / 2, `user ${userId}: no stamp lost or doubled`)
  }
})
