import { existsSync } from 'node:fs'
import { realpath } from 'node:fs/promises'
import { ensureCommand } from '../lib/command.ts'
import type { RunContext, Step } from '../lib/context.ts'
import { ensureDirectory } from '../lib/files.ts'
import { keepPreviousRelease, previousReleaseDir } from '../lib/release.ts'
import { $ } from '../lib/shell.ts'

/**
 * What is not copied: installed or built on the machine itself (node_modules, dist), the host's tooling
 * state, and the host's .env (settings are read from it at provisioning time; it may hold secrets).
 */
export const syncExcludes = ['node_modules', '/dist', '/.git', '/.tap', '/.vagrant', '/coverage', '/.env', '*.log', '/bench/results']
/**
 * Of those, what the copy keeps on the machine (rsync's `--delete` leaves it alone): the app's own
 * node_modules and build (ensureAppBuilt makes them). The rest is only hidden from the copy, so anything
 * else there is deleted like any file the source no longer has.
 */
export const keptOnMachine = ['node_modules', '/dist']
export const syncFilters = syncExcludes.map((pattern) => `--filter=${keptOnMachine.includes(pattern) ? '-' : 'H'} ${pattern}`)

/** rsync's arguments: copy the source into the app dir, root's and readable by the app group. */
function rsyncArgs(ctx: RunContext): string[] {
  const { sourceDir, appDir } = ctx.paths
  return [
    // --checksum: a same-size edit within the same second still counts (the tree is small: it costs little).
    // --perms with --chmod and --chown: every file root's and 0640, whatever the source's or an older release's modes.
    '--recursive', '--links', '--times', '--omit-dir-times', '--checksum', '--delete', '--itemize-changes',
    '--perms', `--chown=root:${ctx.appUser}`, '--chmod=D0750,F0640',
    ...syncFilters,
    `${sourceDir}/`, `${appDir}/`,
  ]
}

/** What rsync would copy, one itemized line per path. */
const syncPreview = (ctx: RunContext) => $`rsync --dry-run ${rsyncArgs(ctx)}`
const SYNC_PREVIEW = 'app-sync-preview'

/**
 * The platform runs from its own copy of the source (APP_DIR): it does not depend on the host's
 * node_modules (another OS, another Node.js), and `vagrant reload` brings it back without the synced
 * folder. The copy is root's, readable by the app group (the app user reads its code, cannot change it:
 * a compromised service cannot plant code for the next start). rsync copies only what differs and
 * deletes what the source no longer has.
 */
export const ensureAppSynced: Step = {
  name: 'ensureAppSynced',
  // Reading both trees is most of a run that changes nothing: done while the first steps run.
  gatherEarly(ctx) {
    if (existsSync(ctx.paths.appDir) && ctx.paths.sourceDir !== ctx.paths.appDir) ctx.facts.early(SYNC_PREVIEW, () => syncPreview(ctx))
  },
  async run(ctx) {
    const { sourceDir, appDir } = ctx.paths
    if ((await realpath(sourceDir)) === (await realpath(appDir).catch(() => ''))) {
      ctx.detail(`running from ${appDir} itself: nothing to copy`)
      return
    }
    const created = await ensureDirectory(ctx, appDir, { mode: 0o750, owner: 'root', group: ctx.appUser })
    const preview = await ctx.facts.get(SYNC_PREVIEW, () => syncPreview(ctx), ctx.nothingChangedEarlier && !created)
    const items = preview.stdout.split('\n').filter((line) => line.trim() !== '')
    for (const item of items.slice(0, 20)) ctx.detail(item)
    await ensureCommand(ctx, {
      change: `copy ${items.length} changed path(s) from ${sourceDir} to ${appDir}`,
      holds: () => items.length === 0,
      run: async () => {
        // A deploy that fails its health wait or smoke test goes back to what runs now (main.ts).
        if (await keepPreviousRelease(ctx)) ctx.detail(`kept the running release in ${previousReleaseDir(ctx)}`)
        await $`rsync ${rsyncArgs(ctx)}`
      },
    })
  },
}
