export interface RedisOptions {
  /** The ACL file (provision/render/redis-acl.ts): Redis's users, loaded at start and by ACL LOAD. */
  aclFile: string
  port: number
  maxmemory: string
  dataDir: string
  pidFile: string
  logFile: string
}

/**
 * Our Redis settings, included at the END of Debian's /etc/redis/redis.conf so they win over the
 * package's defaults while the package keeps owning its file. Mode 0640 root:redis.
 */
export function renderRedisConfig(options: RedisOptions): string {
  return `# Managed by the yoyo-platform provisioner: edits are overwritten.
# Included from /etc/redis/redis.conf (last line there, so these settings win).

# Loopback only (IPv6 optional: "-" lets Redis start where ::1 is unavailable).
bind 127.0.0.1 -::1
port ${options.port}
protected-mode yes

# Users: \`default\` off, one user per app with only the commands and keys it needs, one for the
# provisioner's checks. In their own file (no password in it, only SHA-256 hashes), which ACL LOAD
# re-reads without a restart.
aclfile ${options.aclFile}

# Durability: the queue and the loyalty ledger live here, so every write goes to the append-only file.
# appendfsync everysec: the file is fsync'ed once a second. A crash of Redis itself loses nothing (the
# kernel still has the writes); a power loss or kernel crash loses at most the last second of writes.
# "always" would fsync every write, capping throughput at the disk's fsync rate, for a development
# platform that is the wrong trade.
appendonly yes
appendfsync everysec
dir ${options.dataDir}

# Never evict: silently dropping queued jobs or balances is worse than refusing writes. At the limit
# writes fail with an OOM error that the services report as 503.
maxmemory ${options.maxmemory}
maxmemory-policy noeviction

pidfile ${options.pidFile}
logfile ${options.logFile}
`
}
