// Jobs written straight into Redis, for the scenarios that need kue in a state its own API will not
// produce on demand: jobs whose BLPOP token is missing (kue's "inactive jobs stuck when its index
// drifts": a worker that died after BLPOP and before popping the job, or a BLPOP reply lost when Redis
// restarted), and the same transaction delivered as several jobs.
import type { Redis } from 'ioredis'
import { keys } from '../../services/shared/keys.ts'
import { saveInactiveJobLua, TRANSACTION_JOB, TRANSACTION_JOB_PRIORITY, transactionJobFields } from '../../services/shared/queue/transaction-job.ts'
import type { TransactionEvent } from '../../services/shared/transaction-event.ts'

export { transactionEvent, writeQueuedRecord } from '../helpers/transaction-fixtures.ts'

// The job as the Transaction API writes it, then its BLPOP token taken back (tokens are all alike, and
// a worker blocked in BLPOP is only served after the script, when the list is as it was).
const saveWithoutTokenScript = `${saveInactiveJobLua}
local id = save_inactive_job(ARGV[1], ARGV[2], ARGV[3], { unpack(ARGV, 4) })
redis.call('LPOP', ARGV[1] .. ':' .. ARGV[2] .. ':jobs')
return id
`

/** An inactive kue job for `event` with no BLPOP token: no worker wakes up for it until the watchdog adds one. */
export async function saveJobWithoutToken(redis: Redis, event: TransactionEvent): Promise<string> {
  const id = await redis.eval(saveWithoutTokenScript, 0, keys.queuePrefix, TRANSACTION_JOB, String(TRANSACTION_JOB_PRIORITY), ...transactionJobFields(event, Date.now()))
  return String(id)
}

/** Statuses of the records of `ids`, in order. */
export async function statusesOf(redis: Redis, ids: string[]): Promise<(string | null)[]> {
  if (ids.length === 0) return []
  const pipeline = redis.pipeline()
  for (const id of ids) pipeline.hget(keys.transaction(id), 'status')
  return ((await pipeline.exec()) ?? []).map(([, status]) => (status as string | null) ?? null)
}
