// kue's own ceiling: a consumer that does nothing with a job but complete it, with the Loyalty Worker's
// concurrency, on the same Redis. REDIS_URL from the environment. Prints "ready" once connected.
// Usage: kue-noop.ts --prefix qbench --concurrency 10
import { parseArgs } from 'node:util'
import kue from 'kue'
import { TRANSACTION_JOB } from '../../services/shared/queue/index.ts'
import { loggedInClient } from '../../services/shared/queue/kue-queue.ts'

const { values } = parseArgs({ options: { prefix: { type: 'string', default: 'qbench' }, concurrency: { type: 'string', default: '10' } } })
// kue as shipped, logged in as the URL's Redis user (node_redis 2 alone would log in as `default`).
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const queue = kue.createQueue({ prefix: values.prefix, jobEvents: false, redis: { createClientFactory: () => loggedInClient(redisUrl) } } as unknown as Parameters<typeof kue.createQueue>[0])
queue.process(TRANSACTION_JOB, Number(values.concurrency), (_job: kue.Job, done: kue.DoneCallback) => done())
const client = (queue as unknown as { client: { ready: boolean; once(e: 'ready', f: () => void): void } }).client
const announce = (): void => void process.stdout.write('ready\n')
if (client.ready) announce()
else client.once('ready', announce)
process.on('SIGTERM', () => queue.shutdown(2000, () => process.exit(0)))
