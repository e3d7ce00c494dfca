// Puts N transaction jobs on a kue queue, 100 at a time: with --records as the Transaction API does (the
// record and its job in one script, on the platform's queue prefix), else with kue's own save (for kue's
// no-op consumer, on --prefix). REDIS_URL comes from the environment (never
// argv: it holds the password). Writes the created transaction ids, one a line, to --ids-file.
// Usage: enqueue.ts --prefix q --n 20000 [--records] [--user-base 1000000] [--ids-file path]
import { randomUUID } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import kue from 'kue'
import { enqueueTransaction } from '../../test/helpers/kue-save.ts'
import { Redis } from 'ioredis'
import { createTransactionAndJob } from '../../services/transaction-api/transaction-store.ts'
import { loggedInClient } from '../../services/shared/queue/kue-queue.ts'

const { values } = parseArgs({
  options: {
    prefix: { type: 'string', default: 'q' },
    n: { type: 'string', default: '1000' },
    records: { type: 'boolean', default: false },
    'user-base': { type: 'string', default: '1000000' },
    'ids-file': { type: 'string' },
  },
})
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const n = Number(values.n)
const userBase = Number(values['user-base'])
// kue as shipped, logged in as the URL's Redis user (node_redis 2 alone would log in as `default`).
const queue = kue.createQueue({ prefix: values.prefix, jobEvents: false, redis: { createClientFactory: () => loggedInClient(redisUrl) } } as unknown as Parameters<typeof kue.createQueue>[0])
const redis = new Redis(redisUrl)
const ids: string[] = []
let next = 0
async function worker(): Promise<void> {
  while (next < n) {
    const i = next++
    const at = new Date().toISOString()
    const record = { id: randomUUID(), user_id: userBase + (i % 100), amount: 100 + i, currency: 'GBP', status: 'queued' as const, created_at: at, updated_at: at }
    const event = { transaction_id: record.id, user_id: record.user_id, amount: record.amount, currency: 'GBP', created_at: at }
    // No backlog bound: the bench measures the write itself.
    if (values.records) await createTransactionAndJob(redis, record, event, Number.MAX_SAFE_INTEGER)
    else await enqueueTransaction(queue, event)
    ids.push(record.id)
  }
}
await Promise.all(Array.from({ length: 100 }, worker))
if (values['ids-file'] !== undefined) await writeFile(values['ids-file'], `${ids.join('\n')}\n`)
redis.disconnect()
process.stdout.write(`done ${ids.length}\n`)
queue.shutdown(1000, () => process.exit(0))
