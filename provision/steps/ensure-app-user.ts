import { readAccounts } from '../lib/accounts.ts'
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
    let accounts = await readAccounts()
    if (accounts.user(user) === undefined) {
      ctx.note(`create system user ${user}`)
      if (!ctx.check) {
        await $`useradd --system --user-group --home-dir ${ctx.paths.homeDir} --no-create-home --shell /usr/sbin/nologin --comment ${'yoyo-platform services'} ${user}`
        accounts = await readAccounts()
      }
    }
    // Group-readable (not world): the login users reach PM2's home through it.
    await ensureDirectory(ctx, ctx.paths.homeDir, { mode: 0o750, owner: user })
    for (const login of ctx.runtime.loginUsers) {
      if (accounts.isMember(login, user)) continue
      ctx.note(`add ${login} to group ${user} (effective at their next login)`)
      if (!ctx.check) await $`usermod -aG ${user} ${login}`
    }
  },
}
