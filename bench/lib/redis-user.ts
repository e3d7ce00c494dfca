// The bench's own Redis user on the provisioned machine. The platform's Redis has a user per app with only
// what that app needs (provision/render/redis-acl.ts) and `default` off; the bench reads and resets what no
// app may (INFO commandstats, other prefixes' queues, a bench user's records), so for the run it adds a user
// of its own to the ACL file, loads it with the provisioner's user (which may ACL LOAD), and takes it out
// again at the end. The provisioner would also take it out (it rewrites the file), should a run be killed.
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { Redis } from 'ioredis'
import { defaultPaths } from '../../provision/lib/paths.ts'
import { PROVISIONER_USER } from '../../provision/render/redis-acl.ts'

const BENCH_USER = 'yoyo-bench'

export interface BenchRedisUser {
  url: string
  /** Takes the user out again; only the first call does anything. */
  remove(): Promise<void>
}

async function aclLoad(password: string): Promise<void> {
  const admin = new Redis({ host: '127.0.0.1', port: 6379, username: PROVISIONER_USER, password, lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await admin.connect()
    await admin.call('ACL', 'LOAD')
  } finally {
    admin.disconnect()
  }
}

/**
 * A Redis URL for the bench: the env file's REDIS_URL on a machine provisioned before Redis had users,
 * else a user of the bench's own for this run (`remove` takes it out).
 */
export async function benchRedisUser(env: Record<string, string>, aclFile = defaultPaths().redisAclFile): Promise<BenchRedisUser> {
  if (env.REDIS_URL !== undefined) return { url: env.REDIS_URL, remove: async () => {} }
  const provisionerPassword = env.REDIS_PASSWORD
  if (provisionerPassword === undefined) throw new Error('the env file has neither REDIS_URL nor REDIS_PASSWORD: is the machine provisioned?')
  const original = await readFile(aclFile, 'utf8')
  const password = randomBytes(24).toString('hex')
  // Written (not renamed) into the same file: its owner and mode (0640 root:redis) stay.
  await writeFile(aclFile, `${original.trimEnd()}\nuser ${BENCH_USER} on >${password} ~* &* +@all\n`)
  try {
    await aclLoad(provisionerPassword)
  } catch (err) {
    await writeFile(aclFile, original)
    throw err
  }
  let removed = false
  return {
    url: `redis://${BENCH_USER}:${password}@127.0.0.1:6379/0`,
    // Once: before the scenarios that run the provisioner, and (should one fail first) at the end.
    remove: async () => {
      if (removed) return
      removed = true
      await writeFile(aclFile, original)
      await aclLoad(provisionerPassword)
    },
  }
}
