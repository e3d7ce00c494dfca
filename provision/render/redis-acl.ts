// Redis's users: one per app of platform.json, one for the provisioner's own checks, and `default` off (nobody can log in as it).
// Written once here, for the provisioner (the ACL file it writes, /etc/redis/yoyo-platform.acl) and for the
// test harness (test/helpers/redis-server.ts starts every test's redis-server with the same file), so every
// test suite proves the services work with no more than this.
//
// Each user gets the commands it sends, named one by one (no category: @write alone would bring SORT,
// MIGRATE and RESTORE), and the key patterns and pub/sub channels it uses (services/shared/keys.ts).
// Never @admin or @dangerous, with one exception: INFO, which Redis files under @dangerous because it shows
// the server's settings. ioredis and node_redis send it on every connect (their ready check) and the
// services read `INFO memory` to refuse work before Redis is full; it reads no key.
import { createHash } from 'node:crypto'
import { appNamesOf, type PlatformManifest } from '../../services/shared/platform.ts'

export interface RedisUserRules {
  /** Key patterns (Redis glob), read and write. */
  keys: string[]
  /** Pub/sub channels. */
  channels: string[]
  commands: string[]
}

/** What every client sends on a connection: ready check (INFO), its name, the database, ping, quit. */
const connection = ['ping', 'info', 'select', 'quit', 'client|setname', 'client|getname']

/** Scripts (ioredis defineCommand: EVALSHA, EVAL when Redis does not have it yet). Their commands are checked against the same user. */
const scripts = ['evalsha', 'eval']

/**
 * kue 0.11 through node_redis 2 (services/shared/queue): its job hashes, state sets, wake-up lists, its q:events
 * channel, and the locks of its timers (node-redis-warlock: SET NX PX, a script to unlock).
 */
const kue = [
  'set', 'script|load', 'evalsha',
  'incr', 'incrby', 'get', 'del', 'exists',
  'hset', 'hmset', 'hget', 'hmget', 'hgetall', 'hdel', 'hincrby',
  'zadd', 'zrem', 'zcard', 'zscore', 'zrange', 'zrangebyscore', 'zremrangebyrank',
  'lpush', 'rpush', 'blpop', 'llen', 'lrange',
  'sadd', 'smembers',
  'multi', 'exec',
  'publish', 'subscribe', 'unsubscribe',
]
// kue's timers lock without its prefix (lib/kue.js: 'promotion:lock', 'activeJobsTTL:lock').
const queueKeys = ['q:*', 'promotion:lock', 'activeJobsTTL:lock']
const queueChannels = ['q:events']

/** What each app may do (the apps are platform.json's: a new app needs its entry here, or rendering fails). */
export const appRedisRules: Record<string, RedisUserRules> = {
  // Users and their id index (seeding too), failed-login counters.
  auth: {
    keys: ['user:*', 'users:by-id', 'login-failures:*'],
    channels: [],
    commands: [...connection, ...scripts, 'get', 'mget', 'incr', 'expire', 'ttl', 'hget', 'hset', 'hgetall', 'hdel', 'multi', 'exec'],
  },
  // Transaction records, idempotency keys, and the queue it adds jobs to (its own script, no kue client).
  transactions: {
    keys: ['transaction:*', 'idempotency:*', 'q:*'],
    channels: [],
    commands: [...connection, ...scripts, 'get', 'set', 'incr', 'hget', 'hmget', 'hset', 'hgetall', 'sadd', 'zadd', 'zcard', 'lpush', 'llen', 'multi', 'exec'],
  },
  // Takes jobs, awards stamps and vouchers, trims finished records.
  loyalty: {
    keys: ['transaction:*', 'loyalty:*', 'transactions:finished', ...queueKeys],
    channels: queueChannels,
    commands: [...connection, ...scripts, ...kue, 'pexpire', 'lindex', 'lpop'],
  },
  // kue's UI: reads the queue, and restarts or removes jobs people ask it to.
  dashboard: {
    keys: queueKeys,
    channels: queueChannels,
    commands: [...connection, ...kue],
  },
}

/**
 * The provisioner's checks: PING, status (INFO), the AOF switch's CONFIG GET, reloading this file, and the
 * seeding check, which reads the development users' records (ensureUsersSeeded: the seed runs only when they
 * differ from what it left). Reads only: the seed itself writes as the auth app.
 */
export const PROVISIONER_USER = 'provisioner'
export const provisionerRules: RedisUserRules = {
  keys: ['user:*', 'users:by-id'],
  channels: [],
  commands: [...connection, 'config|get', 'hgetall', 'hmget', 'acl|load', 'acl|whoami'],
}

/** Every user's rules: the provisioner, then the apps of the manifest (each must have rules). */
export function redisUsersOf(manifest: PlatformManifest): Record<string, RedisUserRules> {
  const users: Record<string, RedisUserRules> = { [PROVISIONER_USER]: provisionerRules }
  for (const app of appNamesOf(manifest)) {
    const rules = appRedisRules[app]
    if (rules === undefined) throw new Error(`app ${app} of platform.json has no Redis user rules in provision/render/redis-acl.ts`)
    users[app] = rules
  }
  return users
}

const sha256 = (password: string): string => createHash('sha256').update(password).digest('hex')

/** One ACL file line: on, the password as its SHA-256 (the file holds no password), no access but what is listed. */
export function aclLine(name: string, rules: RedisUserRules, password: string): string {
  return [
    'user', name, 'on', `#${sha256(password)}`, 'resetkeys', ...rules.keys.map((k) => `~${k}`),
    'resetchannels', ...rules.channels.map((c) => `&${c}`), '-@all', ...[...new Set(rules.commands)].map((c) => `+${c}`),
  ].join(' ')
}

/**
 * `default`: off, so no client can use it: one that does not log in can do nothing (NOAUTH), and AUTH as
 * default fails. It keeps every permission for one reason: Redis 7.0 replays the append-only file as
 * `default` and re-checks the ACL at each EXEC it replays, so a write made in MULTI/EXEC (and every script's
 * writes, which Redis 7 logs inside MULTI/EXEC) that `default` may not do is dropped at the next start:
 * silent data loss (redis/redis#14541, fixed by #14545 after 7.0; the test harness's restarts found it).
 */
const DEFAULT_USER = 'user default off resetpass ~* &* +@all'

/**
 * The ACL file (Redis's `aclfile`): `default` (above), then each user with its password. `passwords` holds
 * one per user of redisUsersOf(manifest). `extra` lines are the test harness's own user for its
 * assertions; the provisioner passes none.
 */
export function renderRedisAcl(manifest: PlatformManifest, passwords: Record<string, string>, extra: string[] = []): string {
  const lines = Object.entries(redisUsersOf(manifest)).map(([name, rules]) => {
    const password = passwords[name]
    if (password === undefined) throw new Error(`no Redis password for user ${name}`)
    return aclLine(name, rules, password)
  })
  return `${[DEFAULT_USER, ...lines, ...extra].join('\n')}\n`
}
