// PM2 ecosystem of yoyo-platform: `pm2 startOrReload ecosystem.config.cjs --update-env` (the
// provisioner runs it; `npm run build` first). Settings come from the environment PM2's CLI runs with;
// none of them is secret.
//
// Secrets are NOT in here and never pass through PM2: PM2 copies the environment it starts an app
// with into its saved process list (dump.pm2), readable by every login user in the yoyo group. So each
// service process reads the 0600 env file itself, with `node --env-file` (PM2 passes node_args to
// cluster workers too). A value set here (HTTP_PORT) wins over the file: Node never overrides a
// variable that is already set.
// The apps, their entries, ports, modes and instance counts are platform.json's.
const { existsSync } = require('node:fs')
const platform = require('./platform.json')

const envFile = process.env.YOYO_ENV_FILE || '/etc/yoyo-platform/platform.env'

function integer(name, fallback) {
  const value = Number(process.env[name])
  return Number.isInteger(value) && value > 0 ? value : fallback
}

/** A machine setting's value from the environment, or its default in platform.json. */
const setting = (name) => integer(name, platform.settings[name].default)

// Services finish in-flight work within SHUTDOWN_TIMEOUT_MS of SIGTERM/SIGINT (default 8 s); PM2 waits
// 2 s longer before it SIGKILLs, so a clean shutdown is never cut short.
const shutdownTimeoutMs = setting('SHUTDOWN_TIMEOUT_MS')

const common = {
  cwd: __dirname,
  node_args: [
    // A young generation of 2 MB instead of V8's default (up to 16 MB per semi-space, grown under load):
    // less resident memory for a few percent of throughput (docs/performance.md, change 4). Five
    // processes share a 2 GB VM.
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
  // No PM2 metrics module (@pm2/io) in the service processes: it is loaded into each one for
  // `pm2 monit`'s heap and event-loop gauges, which nothing on the platform reads (yoyo-status and the
  // provisioner read `pm2 jlist`'s CPU and memory, which PM2 measures from outside). Footprint:
  // docs/performance.md.
  pmx: false,
  // One log file per app (not one per instance), under PM2_HOME/logs; the services already write JSON
  // lines with their own timestamps. Rotated by /etc/logrotate.d/yoyo-platform.
  merge_logs: true,
  time: false,
}

// Cluster mode even for one instance (the APIs): `pm2 reload` then starts the new process before stopping
// the old one (no downtime), and `pm2 scale <app> N` works. One instance each for the APIs: on a 2-CPU
// VM they are I/O bound and the loyalty workers need the CPUs. The queue consumers scale with
// `pm2 scale loyalty N` (kept across reboots); an instance count from a setting applies at the first start
// only (a reload does not rescale): the provisioner applies a changed LOYALTY_INSTANCES with `pm2 scale`
// (provision/lib/loyalty-instances.ts). The dashboard, kue's UI for people, runs one process in fork mode.
module.exports = {
  apps: Object.entries(platform.apps).map(([name, app]) => ({
    ...common,
    name,
    script: `dist/${app.source}/main.js`,
    exec_mode: app.process.mode,
    instances: typeof app.process.instances === 'number' ? app.process.instances : setting(app.process.instances),
    env: { HTTP_PORT: String(setting(app.port)), SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs), NODE_ENV: 'production' },
  })),
}
