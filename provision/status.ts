// `yoyo-status` (installed by the provisioner) and `npm run status`: the platform at a glance. Exit 0
// when every part is healthy, 1 when not (so scripts can wait on it), 64 on bad usage.
//
//   yoyo-status [--json] [--url http://127.0.0.1:80] [--host-url http://localhost:8080]
//               [--platform-env /etc/yoyo-platform/platform.env] [--pm2 /usr/local/bin/pm2]
//
// Run as root (sudo) it also reads Redis's password from the env file, for Redis's memory and
// persistence. On a Vagrant host without a platform of its own, `npm run status` asks the VM
// (`vagrant ssh -c yoyo-status`).
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { repoRoot } from './lib/paths.ts'
import { collectStatus, formatStatus } from './lib/status.ts'
import { appNames } from './steps/pm2.ts'

const usage = `Usage: yoyo-status [--json] [--url URL] [--host-url URL] [--platform-env FILE] [--pm2 COMMAND]

Prints each service's health through nginx, the PM2 apps, Redis, the queue and the URLs to open.
Exit 0 when all is healthy, 1 when something is not.`

let options
try {
  options = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      url: { type: 'string' },
      'host-url': { type: 'string' },
      'platform-env': { type: 'string', default: '/etc/yoyo-platform/platform.env' },
      pm2: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  }).values
} catch (err) {
  process.stderr.write(`yoyo-status: ${err instanceof Error ? err.message : String(err)}\n${usage}\n`)
  process.exit(64)
}
if (options.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

const wrapper = '/usr/local/bin/pm2'
// A host that runs the platform in Vagrant has no platform of its own: ask the VM.
if (options.pm2 === undefined && options.url === undefined && !existsSync(wrapper) && existsSync(join(repoRoot, '.vagrant', 'machines', 'default'))) {
  const vagrant = spawnSync('vagrant', ['ssh', '-c', `yoyo-status${options.json ? ' --json' : ''}`, '--', '-q'], { cwd: repoRoot, stdio: 'inherit' })
  if (vagrant.error === undefined) process.exit(vagrant.status ?? 1)
}

const baseUrl = (options.url ?? process.env.PLATFORM_URL ?? 'http://127.0.0.1:80').replace(/\/+$/, '')
const status = await collectStatus({
  baseUrl,
  hostUrl: options['host-url'] ?? baseUrl.replace('//127.0.0.1', '//localhost'),
  envFile: options['platform-env'],
  pm2: options.pm2 ?? (existsSync(wrapper) ? wrapper : 'pm2'),
  apps: appNames,
  dashboardUser: 'admin',
})
process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status))
process.exit(status.healthy ? 0 : 1)
