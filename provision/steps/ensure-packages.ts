import type { Step } from '../lib/context.ts'
import { ensurePackagesInstalled } from '../lib/packages.ts'

/** Debian/Ubuntu packages the platform needs. Node.js is not one: bootstrap.sh installs a pinned one. */
export const packages = ['redis-server', 'redis-tools', 'nginx', 'curl', 'rsync', 'logrotate', 'ca-certificates']

export const ensurePackages: Step = {
  name: 'ensurePackages',
  run: (ctx) => ensurePackagesInstalled(ctx, packages),
}
