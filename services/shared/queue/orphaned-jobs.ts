import { keys } from '../keys.ts'
import type { Logger } from '../logger.ts'
import type { Redis } from '../redis.ts'
import { repeatEvery } from '../repeat.ts'

/**
 * kue takes a job in three steps: pop its id from the type's inactive set, read the job, mark it
 * active. A worker that dies between the first and the last (SIGKILL, OOM, power loss) leaves the job
 * in none of the type's state sets: no worker will ever see it again and the job TTL does not apply
 * (it only covers active jobs). Tests that kill a busy worker lose a few jobs this way nearly every time.
 *
 * The sweep puts such jobs back. A job is requeued only when it was already orphaned at the previous
 * sweep (so at least one interval ago): a live worker takes milliseconds between pop and activation.
 * If a live worker was merely very slow, the job is delivered twice, which the idempotent award
 * makes harmless. Every worker process sweeps; the script is atomic, so two sweeps cannot requeue a
 * job twice. The cost is one ZRANGE of kue's job index (completed jobs are removed, failed ones stay).
 *
 * The sweep also drops ghosts: entries of the type's inactive, active or delayed set whose job no longer
 * exists. kue leaves one when Redis fails between its steps: a job completes and is removed while its
 * move from 'active' to 'complete' was lost, and kue's TTL check, finding no job, cleans every set but
 * the type's own. A ghost is no work (the job was done) but it counts as active forever. Ghosts are
 * dropped at their second sighting too (a job's hash is always written before it enters a set).
 *
 * KEYS: <prefix>:jobs (kue's index of every job). The job and state keys are derived from ARGV.
 * ARGV: prefix, job type, then what the previous sweep saw (orphans as kue's "NN|id" member names,
 * ghosts as "<state> NN|id").
 * Returns {ids requeued now, what was seen now but not before, ghost members dropped now}.
 */
const sweepScript = `
local prefix, job_type = ARGV[1], ARGV[2]
local seen_before = {}
for i = 3, #ARGV do seen_before[ARGV[i]] = true end
local states = {'inactive', 'active', 'delayed', 'failed', 'complete'}
local requeued, orphaned = {}, {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local in_a_state = false
  for _, state in ipairs(states) do
    if redis.call('ZSCORE', prefix .. ':jobs:' .. job_type .. ':' .. state, member) then in_a_state = true break end
  end
  local bar = string.find(member, '|', 1, true)
  if not in_a_state and bar then
    local id = string.sub(member, bar + 1)
    local job = redis.call('HMGET', prefix .. ':job:' .. id, 'type', 'state', 'priority')
    if job[1] == job_type and job[2] == 'inactive' then
      if seen_before[member] then
        local priority = job[3] or '0'
        redis.call('ZADD', prefix .. ':jobs:inactive', priority, member)
        redis.call('ZADD', prefix .. ':jobs:' .. job_type .. ':inactive', priority, member)
        redis.call('LPUSH', prefix .. ':' .. job_type .. ':jobs', 1)
        table.insert(requeued, id)
      else
        table.insert(orphaned, member)
      end
    end
  end
end
local dropped = {}
for _, state in ipairs({'inactive', 'active', 'delayed'}) do
  local set = prefix .. ':jobs:' .. job_type .. ':' .. state
  for _, member in ipairs(redis.call('ZRANGE', set, 0, -1)) do
    local bar = string.find(member, '|', 1, true)
    if bar and redis.call('EXISTS', prefix .. ':job:' .. string.sub(member, bar + 1)) == 0 then
      local ghost = state .. ' ' .. member
      if seen_before[ghost] then
        redis.call('ZREM', set, member)
        redis.call('ZREM', prefix .. ':jobs:' .. state, member)
        redis.call('ZREM', KEYS[1], member)
        table.insert(dropped, member)
      else
        table.insert(orphaned, ghost)
      end
    end
  end
end
return {requeued, orphaned, dropped}
`

interface SweepCommand {
  yoyoSweepOrphanedJobs(index: string, prefix: string, type: string, ...seenBefore: string[]): Promise<[string[], string[], string[]]>
}

/** Adds the sweep script to a client as a command; sweepOrphanedJobs adds it if it is not there yet. */
export function defineSweepCommand<R extends Redis>(redis: R): R & SweepCommand {
  if (!('yoyoSweepOrphanedJobs' in redis)) redis.defineCommand('yoyoSweepOrphanedJobs', { numberOfKeys: 1, lua: sweepScript })
  return redis as R & SweepCommand
}

/** Sweeps now and every `intervalMs`; returns a function that stops the sweeps. */
export function sweepOrphanedJobs(redis: Redis, options: { type: string; intervalMs: number; logger: Logger }): () => void {
  const { type, intervalMs, logger } = options
  const command = defineSweepCommand(redis)
  let seenBefore: string[] = []
  // Redis down: a failed sweep is retried with the same candidates.
  return repeatEvery(
    intervalMs,
    async () => {
      const [requeued, orphaned, dropped] = await command.yoyoSweepOrphanedJobs(`${keys.queuePrefix}:jobs`, keys.queuePrefix, type, ...seenBefore)
      seenBefore = orphaned
      if (requeued.length > 0) logger.warn({ job_ids: requeued }, 'requeued jobs a dead worker had taken but not started')
      if (dropped.length > 0) logger.warn({ members: dropped }, 'dropped queue entries of jobs that no longer exist')
    },
    { logger, failure: 'orphaned job sweep failed' },
  )
}
