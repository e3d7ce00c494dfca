import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import t from 'tap'
import { PROVISIONER_USER, redisUsersOf, renderRedisAcl } from '../../provision/render/redis-acl.ts'
import { renderRedisConfig } from '../../provision/render/redis-config.ts'
import { platform } from '../../services/shared/platform.ts'
import { freePort } from '../helpers/ports.ts'

const passwords = Object.fromEntries(Object.keys(redisUsersOf(platform)).map((user, i) => [user, `${i}`.repeat(43)]))
const options = { aclFile: '/etc/redis/yoyo-platform.acl', port: 6379, maxmemory: '256mb', dataDir: '/var/lib/redis', pidFile: '/run/redis/redis-server.pid', logFile: '/var/log/redis/redis-server.log' }

t.test('when the Redis config is rendered, then it is loopback, takes its users from the ACL file, durable and never evicts', async (t) => {
  const text = renderRedisConfig(options)
  t.match(text, /^bind 127\.0\.0\.1 -::1$/m)
  t.match(text, /^protected-mode yes$/m)
  t.match(text, /^aclfile \/etc\/redis\/yoyo-platform\.acl$/m)
  t.notMatch(text, /requirepass/, 'no password of `default`: it is off')
  t.match(text, /^appendonly yes$/m)
  t.match(text, /^appendfsync everysec$/m)
  t.match(text, /^maxmemory 256mb$/m)
  t.match(text, /^maxmemory-policy noeviction$/m)
  t.match(text, /^dir \/var\/lib\/redis$/m)
})

t.test('when a real redis-server loads the package config with ours included last, then our settings win', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-redis-conf-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const port = await freePort()
  const ours = join(dir, 'yoyo-platform.conf')
  await writeFile(join(dir, 'users.acl'), renderRedisAcl(platform, passwords))
  await writeFile(ours, renderRedisConfig({ ...options, aclFile: join(dir, 'users.acl'), port, maxmemory: '64mb', dataDir: dir, pidFile: join(dir, 'redis.pid'), logFile: join(dir, 'redis.log') }))
  // Like Debian's redis.conf: other values first, then our include line appended.
  const main = join(dir, 'redis.conf')
  await writeFile(main, `port 1\nappendonly no\nmaxmemory-policy allkeys-lru\nsave ""\ndaemonize no\ninclude ${ours}\n`)
  const server = spawn('redis-server', [main], { stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(async () => {
    if (server.exitCode === null) {
      server.kill('SIGKILL')
      await once(server, 'exit')
    }
  })
  const client = new Redis({ port, lazyConnect: true, username: PROVISIONER_USER, password: passwords[PROVISIONER_USER], maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  for (let i = 0; ; i++) {
    try {
      await client.connect()
      break
    } catch (err) {
      if (i > 100) throw err
      await sleep(50)
    }
  }
  t.equal(await client.ping(), 'PONG', "answers on our port to the provisioner's user")
  t.same(await client.config('GET', 'appendonly'), ['appendonly', 'yes'])
  t.same(await client.config('GET', 'appendfsync'), ['appendfsync', 'everysec'])
  t.same(await client.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'noeviction'])
  t.same(await client.config('GET', 'maxmemory'), ['maxmemory', String(64 * 1024 * 1024)])
  t.same(await client.config('GET', 'protected-mode'), ['protected-mode', 'yes'])
  const anonymous = new Redis({ port, lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
  anonymous.on('error', () => {})
  t.teardown(() => anonymous.disconnect())
  await anonymous.connect()
  await t.rejects(anonymous.set('k', 'v'), /NOAUTH/, 'no password, no access')
})
