import { Redis } from 'ioredis'
import t from 'tap'
import { appRedisRules, PROVISIONER_USER, redisUsersOf, renderRedisAcl } from '../../provision/render/redis-acl.ts'
import { checkManifest, platform } from '../../services/shared/platform.ts'
import { closeQueue, createQueue, queueReady } from '../../services/shared/queue/index.ts'
import { memoryLogger } from '../helpers/log-sink.ts'
import { startRedis } from '../helpers/redis-server.ts'

const passwords = Object.fromEntries(Object.keys(redisUsersOf(platform)).map((user, i) => [user, `password-${i}-`.padEnd(43, 'x')]))

t.test('when the ACL file is rendered, then default is off, each app of platform.json and the provisioner have a user, and no password is in it', async (t) => {
  const text = renderRedisAcl(platform, passwords)
  const lines = text.trim().split('\n')
  t.match(lines[0], /^user default off resetpass /, 'default first, off: nobody logs in as it')
  t.same(lines.slice(1).map((line) => line.split(' ')[1]), [PROVISIONER_USER, ...Object.keys(platform.apps)])
  for (const line of lines.slice(1)) {
    t.match(line, / on #[0-9a-f]{64} resetkeys /, 'on, with a SHA-256')
    t.match(line, / -@all( \+[a-z|]+)+$/, 'no command but those listed after -@all')
    t.notMatch(line, /\+@|~\*|&\*|allkeys|allchannels|allcommands|nopass/, 'no category, no every-key or every-channel')
  }
  for (const password of Object.values(passwords)) t.notOk(text.includes(password), 'no password in it')
})

t.test('when platform.json has an app without Redis rules, or a user has no password, then rendering fails naming it', async (t) => {
  const manifest = checkManifest({ ...platform, apps: { ...platform.apps, reports: { ...platform.apps.auth!, route: { prefix: '/reports' } } } })
  t.throws(() => renderRedisAcl(manifest, passwords), /app reports of platform\.json has no Redis user rules/)
  const { auth: _auth, ...fewer } = passwords
  t.throws(() => renderRedisAcl(platform, fewer), /no Redis password for user auth/)
  t.ok(appRedisRules.auth, 'the rules are keyed by app name')
})

t.test('when an app writes in MULTI/EXEC or a script and Redis restarts, then the append-only file brings it all back', async (t) => {
  // Redis 7.0 replays the AOF as `default` and re-checks the ACL at each EXEC: with a restricted default
  // these writes were dropped at the restart (found by the harness's restarts; see redis-acl.ts).
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const auth = new Redis(redis.urlOf('auth'), { lazyConnect: true, maxRetriesPerRequest: 0 })
  await auth.connect()
  await auth.multi().hset('user:restart-probe', 'id', '99').hset('users:by-id', '99', 'restart-probe').exec()
  await auth.eval("redis.call('HSET', KEYS[1], 'name', 'probe') return 1", 1, 'user:restart-probe-script')
  await auth.quit()
  // In the AOF as MULTI/EXEC blocks (no rewrite: that would fold them into its snapshot); SIGTERM flushes it.
  await redis.kill('SIGTERM')
  await redis.start()
  t.same(await redis.client.hgetall('user:restart-probe'), { id: '99' }, 'the MULTI/EXEC write is back')
  t.equal(await redis.client.hget('users:by-id', '99'), 'restart-probe')
  t.equal(await redis.client.hget('user:restart-probe-script', 'name'), 'probe', "the script's write is back")
})

t.test("when kue's client is given a URL with a password and no user (a container's REDIS_URL), then it logs in as default", async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  await redis.client.call('ACL', 'SETUSER', 'default', 'on', '>single-password-of-default', '~*', '&*', '+@all')
  const queue = createQueue(`redis://:single-password-of-default@127.0.0.1:${redis.port}/0`, memoryLogger().logger)
  t.teardown(() => closeQueue(queue, 500))
  await queueReady(queue, 5000)
  const clients = String(await redis.client.call('CLIENT', 'LIST'))
  t.match(clients, /user=default/, 'connected as default')
})

t.test("when kue's client is given a wrong password for its user, then it is not ready (and says so)", async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const log = memoryLogger()
  const queue = createQueue(`redis://loyalty:not-its-password@127.0.0.1:${redis.port}/0`, log.logger)
  t.teardown(() => closeQueue(queue, 500))
  await t.rejects(queueReady(queue, 1000), /not ready/)
})
