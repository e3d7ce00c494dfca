// Admin command: loads the development users (alice, bob, charlie) into Redis. Idempotent.
//   npm run users:seed                            (from the source, through tsx)
//   node dist/services/auth-api/seed-users.js      (compiled)
// Reads REDIS_URL from the environment. Prints one line per user: created, updated or ok.
import { configOrExit } from '../shared/lifecycle.ts'
import { closeRedis, createRedis } from '../shared/redis.ts'
import { loadSeedConfig } from './config.ts'
import { developmentUsers, seedUsers } from './seed.ts'

const config = configOrExit(() => loadSeedConfig(process.env))
const redis = createRedis(config.REDIS_URL, { name: 'auth-api-seed' })
try {
  await redis.connect().catch((err: Error) => {
    throw new Error(`cannot reach Redis at ${redis.options.host ?? '?'}:${redis.options.port ?? '?'} (${err.message})`)
  })
  for (const { username, id, result } of await seedUsers(redis, developmentUsers)) {
    process.stdout.write(`${username} (id ${id}): ${result}\n`)
  }
  await closeRedis(redis)
} catch (err) {
  process.stderr.write(`Seeding users failed: ${err instanceof Error ? err.message : String(err)}\n`)
  redis.disconnect()
  // Exit now: after a failed connection ioredis keeps a command timer alive for a couple of seconds.
  process.exit(1)
}
