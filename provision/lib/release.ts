// The previous release, kept so that a deploy that fails its health wait or smoke test goes back to it:
// the app's files (source, node_modules), its stamps, and which apps the deploy reloaded.
import { existsSync } from 'node:fs'
import { cp, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Context } from './context.ts'
import { $ } from './shell.ts'
import { readStamp } from './stamps.ts'

export const previousReleaseDir = (ctx: Context): string => `${ctx.paths.appDir}.previous`
const previousStampsDir = (ctx: Context): string => join(ctx.paths.stateDir, 'previous-stamps')

/**
 * Copies the running release aside, before a deploy changes it: node_modules as hard links (npm ci
 * replaces the directory rather than rewriting its files, so the links keep the old ones), the rest as
 * copies, owners and modes kept (--checksum: a same-size file rewritten within the same second counts). Only when there is an installed release to go back to.
 */
export async function keepPreviousRelease(ctx: Context): Promise<boolean> {
  const { appDir, stateDir } = ctx.paths
  if (!existsSync(join(appDir, 'node_modules')) || !existsSync(join(appDir, 'platform.json'))) return false
  const previous = previousReleaseDir(ctx)
  await $`rsync --recursive --links --perms --owner --group --times --checksum --delete --exclude=/node_modules ${`${appDir}/`} ${`${previous}/`}`
  // The links already there are the same files when the dependencies are the same install (its stamp):
  // re-linking some 9,000 files would cost a deploy of a code change about a second.
  const sameInstall = existsSync(join(previous, 'node_modules')) &&
    (await readStamp(stateDir, 'app-dependencies')) === (await readFile(join(previousStampsDir(ctx), 'app-dependencies'), 'utf8').then((text) => text.trim(), () => undefined))
  if (!sameInstall) {
    await rm(join(previous, 'node_modules'), { recursive: true, force: true })
    if (existsSync(join(appDir, 'node_modules'))) await $`cp -al ${join(appDir, 'node_modules')} ${join(previous, 'node_modules')}`
  }
  await rm(previousStampsDir(ctx), { recursive: true, force: true })
  if (existsSync(join(stateDir, 'stamps'))) await cp(join(stateDir, 'stamps'), previousStampsDir(ctx), { recursive: true })
  ctx.shared.previousRelease = true
  return true
}

/** Puts the kept release back in place of the current one: files and build stamps (PM2 is the caller's). */
export async function restorePreviousRelease(ctx: Context): Promise<void> {
  const { appDir, stateDir } = ctx.paths
  const previous = previousReleaseDir(ctx)
  await $`rsync --recursive --links --perms --owner --group --times --checksum --delete --exclude=/node_modules ${`${previous}/`} ${`${appDir}/`}`
  await rm(join(appDir, 'node_modules'), { recursive: true, force: true })
  if (existsSync(join(previous, 'node_modules'))) await $`cp -al ${join(previous, 'node_modules')} ${join(appDir, 'node_modules')}`
  await rm(join(stateDir, 'stamps'), { recursive: true, force: true })
  if (existsSync(previousStampsDir(ctx))) await cp(previousStampsDir(ctx), join(stateDir, 'stamps'), { recursive: true })
}
