import { readAccounts } from '../lib/accounts.ts'
import { ensureCommand } from '../lib/command.ts'
import type { Step } from '../lib/context.ts'
import { ensureDirectory } from '../lib/files.ts'
import { $ } from '../lib/shell.ts'

/**
 * The system user the platform runs as (no login, no password), its home (which holds PM2's home), and
 * the login users in its group: that group membership is what lets them use PM2 without sudo.
 */
export const ensureAppUser: Step = {
  name: 'ensureAppUser',
  async run(ctx) {
    const user = ctx.appUser
    const before = await readAccounts()
    await ensureCommand(ctx, {
      change: `create system user ${user}`,
      holds: () => before.user(user) !== undefined,
      run: () => $`useradd --system --user-group --home-dir ${ctx.paths.homeDir} --no-create-home --shell /usr/sbin/nologin --comment ${'yoyo-platform services'} ${user}`,
    })
    // Group-readable (not world): the login users reach PM2's home through it.
    await ensureDirectory(ctx, ctx.paths.homeDir, { mode: 0o750, owner: user })
    const accounts = await readAccounts()
    for (const login of ctx.runtime.loginUsers) {
      await ensureCommand(ctx, {
        change: `add ${login} to group ${user} (effective at their next login)`,
        holds: () => accounts.isMember(login, user),
        run: () => $`usermod -aG ${user} ${login}`,
      })
    }
  },
}
