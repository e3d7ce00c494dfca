import { keys } from '../keys.ts'
import type { Logger } from '../logger.ts'
import type { Redis } from '../redis.ts'
import { repeatEvery } from '../repeat.ts'

/**
 * kue's repair of stuck jobs: a kue worker waits for a job with BLPOP on a list of tokens, one per job
 * in the type's inactive set. A token goes missing when a worker dies between BLPOP and popping its job,
 * or when Redis restarts and the BLPOP's reply is lost: the job then waits, unseen, until a new job's
 * token happens to wake a worker. The repair pushes a token for each job the list is short of.
 *
 * kue has this (Queue#watchStuckJobs), but its timer stops for good at the first failed run: after a
 * Redis restart (the script is gone), while Redis is full (the LPUSH is refused) or down. This one runs
 * the same repair through ioredis, which reloads the script after a restart, and a failed run is only
 * logged: the next one tries again. For the one job type it is given, so no KEYS over the keyspace.
 *
 * KEYS: <prefix>:jobs:<type>:inactive, <prefix>:<type>:jobs. Returns the tokens pushed.
 */
const repairScript = `
local waiting = redis.call('ZCARD', KEYS[1])
local tokens = redis.call('LLEN', KEYS[2])
local missing = waiting - tokens
for i = 1, missing do redis.call('LPUSH', KEYS[2], 1) end
return math.max(missing, 0)
`

interface RepairCommand {
  yoyoRepairStuckJobs(inactive: string, tokens: string): Promise<number>
}

/** Adds the repair script to a client as a command; watchStuckJobs adds it if it is not there yet. */
export function defineRepairCommand<R extends Redis>(redis: R): R & RepairCommand {
  if (!('yoyoRepairStuckJobs' in redis)) redis.defineCommand('yoyoRepairStuckJobs', { numberOfKeys: 2, lua: repairScript })
  return redis as R & RepairCommand
}

/** Repairs now and every `intervalMs`; returns a function that stops it. */
export function watchStuckJobs(redis: Redis, options: { type: string; intervalMs: number; logger: Logger }): () => void {
  const { type, intervalMs, logger } = options
  const command = defineRepairCommand(redis)
  return repeatEvery(
    intervalMs,
    async () => {
      const pushed = await command.yoyoRepairStuckJobs(`${keys.queuePrefix}:jobs:${type}:inactive`, `${keys.queuePrefix}:${type}:jobs`)
      if (pushed > 0) logger.info({ tokens: pushed }, 'woke workers for jobs that had lost their tokens')
    },
    { logger, failure: 'stuck job repair failed' },
  )
}
