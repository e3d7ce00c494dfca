import type { Context } from './context.ts'
import { ensureCommand } from './command.ts'
import { $, retry } from './shell.ts'

/** The installed ones among `names` (dpkg's status "ii"), in one dpkg-query. */
export async function installedPackages(names: string[]): Promise<Set<string>> {
  const listed = await $({ nothrow: true })`dpkg-query -W -f ${'${Package} ${db:Status-Abbrev}\n'} ${names}`
  return new Set(listed.stdout.split('\n').filter((line) => / ii\s*$/.test(line)).map((line) => line.split(' ')[0]!))
}

/**
 * The package resource: every package of `names` installed (Debian/Ubuntu). apt-get runs only for the
 * missing ones, with its index refreshed first, each retried: the mirror is on the network.
 */
export async function ensurePackagesInstalled(ctx: Context, names: string[]): Promise<void> {
  const installed = await installedPackages(names)
  const missing = names.filter((name) => !installed.has(name))
  await ensureCommand(ctx, {
    change: `install ${missing.join(' ')}`,
    holds: () => missing.length === 0,
    run: async () => {
      const apt = $({ env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
      await retry(3, '5s', () => apt`apt-get update -qq`)
      await retry(3, '5s', () => apt`apt-get install -y -qq --no-install-recommends ${missing}`)
    },
  })
}
