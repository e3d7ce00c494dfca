import { existsSync } from 'node:fs'
import { realpath } from 'node:fs/promises'
import type { RunContext, Step } from '../lib/context.ts'
import { ensureDirectory } from '../lib/files.ts'
import { keepPreviousRelease, previousReleaseDir } from '../lib/release.ts'
import { $ } from '../lib/shell.ts'

/**
 * What is not copied: installed or built on the machine itself (node_modules, dist), the host's
 * tooling state, and the host's .env (settings are read from it at provisioning time; it may hold secrets).
 */
export const syncExcludes = ['node_modules', '/dist', '/.git', '/.tap', '/.vagrant', '/coverage', '/.env', '*.log', '/bench/results']

/**
 * The platform runs from its own copy of the source (APP_DIR), owned by the app user: it does not
 * depend on the host's node_modules (another OS, another Node.js), and `vagrant reload` brings it back
 * without the synced folder. rsync copies only what differs and deletes what the source no longer has
 * (excluded paths, like the app's own node_modules and dist, are kept).
 */
/** rsync's arguments: copy the source into the app dir, owned by the app user. */
function rsyncArgs(ctx: RunContext): string[] {
  const { sourceDir, appDir } = ctx.paths
  return [
    // --checksum: a same-size edit within the same second still counts (the tree is small: it costs little).
    '--recursive', '--links', '--times', '--omit-dir-times', '--checksum', '--delete', '--itemize-changes',
    `--chown=${ctx.appUser}:${ctx.appUser}`, '--chmod=D0750,F0640',
    ...syncExcludes.map((pattern) => `--exclude=${pattern}`),
    `${sourceDir}/`, `${appDir}/`,
  ]
}

/** What rsync would copy, one itemized line per path. */
const syncPreview = (ctx: RunContext) => $`rsync --dry-run ${rsyncArgs(ctx)}`
const SYNC_PREVIEW = 'app-sync-preview'

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
    const created = await ensureDirectory(ctx, appDir, { mode: 0o750, owner: ctx.appUser })
    const preview = await ctx.facts.get(SYNC_PREVIEW, () => syncPreview(ctx), ctx.nothingChangedEarlier && !created)
    const items = preview.stdout.split('\n').filter((line) => line.trim() !== '')
    if (items.length === 0) return
    ctx.note(`copy ${items.length} changed path(s) from ${sourceDir} to ${appDir}`)
    for (const item of items.slice(0, 20)) ctx.detail(item)
    if (ctx.check) return
    // A deploy that fails its health wait or smoke test goes back to what runs now (main.ts).
    if (await keepPreviousRelease(ctx)) ctx.detail(`kept the running release in ${previousReleaseDir(ctx)}`)
    await $`rsync ${rsyncArgs(ctx)}`
  },
}
