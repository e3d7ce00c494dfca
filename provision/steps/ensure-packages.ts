import type { Step } from '../lib/context.ts'
import { $, retry } from '../lib/shell.ts'

/** Debian/Ubuntu packages the platform needs. Node.js is not one: bootstrap.sh installs a pinned one. */
export const packages = ['redis-server', 'redis-tools', 'nginx', 'curl', 'rsync', 'logrotate', 'ca-certificates']

/** Installs whichever of the packages is missing; `apt-get` runs only then. */
export const ensurePackages: Step = {
  name: 'ensurePackages',
  async run(ctx) {
    const listed = await $({ nothrow: true })`dpkg-query -W -f ${'${Package} ${db:Status-Abbrev}\n'} ${packages}`
    const installed = new Set(
      listed.stdout.split('\n').filter((line) => / ii\s*$/.test(line)).map((line) => line.split(' ')[0]),
    )
    const missing = packages.filter((name) => !installed.has(name))
    if (missing.length === 0) return
    ctx.note(`install ${missing.join(' ')}`)
    if (ctx.check) return
    const apt = $({ env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    await retry(3, '5s', () => apt`apt-get update -qq`)
    await retry(3, '5s', () => apt`apt-get install -y -qq --no-install-recommends ${missing}`)
  },
}
