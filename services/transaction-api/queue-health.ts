import { withTimeout } from '../shared/errors.ts'
import type { HealthCheck } from '../shared/health.ts'
import type { Queue } from '../shared/queue.ts'

interface NodeRedisClient {
  ping(callback: (err: Error | null) => void): unknown
}

/** Probes kue's own Redis client (not the API's ioredis one): jobs are saved through it. */
export const queueCheck =
  (queue: Queue): HealthCheck =>
  async () => {
    const client = (queue as unknown as { client: NodeRedisClient | null }).client
    if (client === null) throw new Error('queue is closed')
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        client.ping((err) => (err ? reject(err) : resolve()))
      }),
      1000,
      'queue ping',
    )
  }
