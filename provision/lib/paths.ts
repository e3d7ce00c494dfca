import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Every place the provisioner reads or writes, in one object (tests point them into a temp dir). */
export interface Paths {
  /** The checkout the provisioner runs from (/vagrant in the VM). */
  sourceDir: string
  /** Where the platform runs from: a copy of the source, owned by the app user. */
  appDir: string
  /** The app user's home. */
  homeDir: string
  /** The one PM2 daemon's home, shared with the login user through the app group. */
  pm2Home: string
  /** The provisioner's own state: stamps (hashes of what was built) and pending restarts. */
  stateDir: string
  configDir: string
  /** Secrets and service settings, read by each service process itself (node --env-file). */
  envFile: string
  redisMainConfig: string
  redisConfig: string
  redisAclFile: string
  redisDataDir: string
  redisRunDir: string
  redisPidFile: string
  redisLogFile: string
  nginxSite: string
  nginxSiteLink: string
  nginxDefaultSite: string
  nginxPidFile: string
  nginxAccessLog: string
  pm2Wrapper: string
  profileScript: string
  systemdUnit: string
  logrotateConfig: string
  /** The API docs page nginx serves at /docs/ (Swagger UI and openapi.json): public, so not in the app dir. */
  docsDir: string
  /** `yoyo-status`: the platform at a glance. */
  statusCommand: string
}

export const APP_USER = 'yoyo'
// The name `pm2 startup` would give it (pm2-<user>): where people and tools look for it.
export const PM2_UNIT = 'pm2-yoyo.service'

/** The repository root: provision/lib/ → ../.. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export function defaultPaths(sourceDir = repoRoot): Paths {
  const homeDir = '/var/lib/yoyo-platform'
  return {
    sourceDir,
    appDir: '/opt/yoyo-platform',
    homeDir,
    pm2Home: `${homeDir}/.pm2`,
    stateDir: '/var/lib/yoyo-platform-provisioner',
    configDir: '/etc/yoyo-platform',
    envFile: '/etc/yoyo-platform/platform.env',
    redisMainConfig: '/etc/redis/redis.conf',
    redisConfig: '/etc/redis/yoyo-platform.conf',
    redisAclFile: '/etc/redis/yoyo-platform.acl',
    redisDataDir: '/var/lib/redis',
    redisRunDir: '/run/redis',
    redisPidFile: '/run/redis/redis-server.pid',
    redisLogFile: '/var/log/redis/redis-server.log',
    nginxSite: '/etc/nginx/sites-available/yoyo-platform.conf',
    nginxSiteLink: '/etc/nginx/sites-enabled/yoyo-platform.conf',
    nginxDefaultSite: '/etc/nginx/sites-enabled/default',
    nginxPidFile: '/run/nginx.pid',
    nginxAccessLog: '/var/log/nginx/yoyo-platform.access.log',
    pm2Wrapper: '/usr/local/bin/pm2',
    profileScript: '/etc/profile.d/yoyo-platform.sh',
    systemdUnit: `/etc/systemd/system/${PM2_UNIT}`,
    logrotateConfig: '/etc/logrotate.d/yoyo-platform',
    docsDir: '/var/www/yoyo-platform/docs',
    statusCommand: '/usr/local/bin/yoyo-status',
  }
}
