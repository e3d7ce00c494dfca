// PM2 ecosystem of yoyo-platform: `pm2 startOrReload ecosystem.config.cjs --update-env` (the
// provisioner runs it; `npm run build` first). Settings come from the environment PM2's CLI runs with;
// none of them is secret.
//
// Secrets are NOT in here and never pass through PM2: PM2 copies the environment it starts an app
// with into its saved process list (dump.pm2), readable by every login user in the yoyo group. So each
// service process reads the 0600 env file itself, with `node --env-file` (PM2 passes node_args to
// cluster workers too). A value set here (HTTP_PORT) wins over the file: Node never overrides a
// variable that is already set.
const { existsSync } = require('node:fs')

const envFile = process.env.YOYO_ENV_FILE || '/etc/yoyo-platform/platform.env'

function integer(name, fallback) {
  const value = Number(process.env[name])
  return Number.isInteger(value) && value > 0 ? value : fallback
}

// Services finish in-flight work within SHUTDOWN_TIMEOUT_MS of SIGTERM/SIGINT (default 8 s); PM2 waits
// 2 s longer before it SIGKILLs, so a clean shutdown is never cut short.
const shutdownTimeoutMs = integer('SHUTDOWN_TIMEOUT_MS', 8000)

const common = {
  cwd: __dirname,
  // Cluster mode even for one instance: `pm2 reload` then starts the new process before stopping the
  // old one (no downtime), and `pm2 scale <app> N` works for every app.
  exec_mode: 'cluster',
  node_args: [
    // A young generation of 2 MB instead of V8's default (up to 16 MB per semi-space, grown under load):
    // the Transaction API's resident memory was 92 MB idle and 165 MB after load instead of 107 and
    // 265 MB, for about 5 % fewer requests/s (docs/performance.md, change 4). Five processes share a 2 GB VM.
    '--max-semi-space-size=2',
    ...(existsSync(envFile) ? [`--env-file=${envFile}`] : []),
  ],
  // The services call process.send('ready') once listening: a reload moves traffic only then.
  wait_ready: true,
  listen_timeout: 15000,
  kill_timeout: shutdownTimeoutMs + 2000,
  // Crash loops back off (100 ms doubling up to 15 s) instead of hammering Redis.
  exp_backoff_restart_delay: 100,
  max_memory_restart: '300M',
  // One log file per app (not one per instance), under PM2_HOME/logs; the services already write JSON
  // lines with their own timestamps. Rotated by /etc/logrotate.d/yoyo-platform.
  merge_logs: true,
  time: false,
}

const env = (port) => ({ HTTP_PORT: String(port), SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs), NODE_ENV: 'production' })

module.exports = {
  apps: [
    {
      ...common,
      name: 'auth',
      script: 'dist/services/auth-api/main.js',
      // One each for the APIs: on a 2-CPU VM they are I/O bound and the loyalty workers need the CPUs.
      instances: 1,
      env: env(integer('AUTH_PORT', 5000)),
    },
    {
      ...common,
      name: 'transactions',
      script: 'dist/services/transaction-api/main.js',
      instances: 1,
      env: env(integer('TRANSACTIONS_PORT', 5001)),
    },
    {
      ...common,
      name: 'loyalty',
      script: 'dist/services/loyalty-worker/main.js',
      // The queue consumers: scale with `pm2 scale loyalty N` (kept across reboots). This count applies at
      // the first start only (a reload does not rescale): the provisioner applies a changed
      // LOYALTY_INSTANCES with `pm2 scale` (provision/lib/loyalty-instances.ts).
      instances: integer('LOYALTY_INSTANCES', 2),
      env: env(integer('LOYALTY_PORT', 5002)),
    },
    {
      ...common,
      name: 'dashboard',
      script: 'dist/services/queue-dashboard/main.js',
      // kue's web UI, for people: one process is plenty, and fork mode (a reload restarts it) is fine.
      exec_mode: 'fork',
      instances: 1,
      env: env(integer('DASHBOARD_PORT', 5003)),
    },
  ],
}
