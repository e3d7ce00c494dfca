import { chmod, chown, lstat, mkdir, open, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { readAccounts } from './accounts.ts'
import { fileDiff } from './diff.ts'

/** The part of the step context file helpers need (so tests can pass a plain object). */
export interface FileContext {
  readonly check: boolean
  /** Records a change; a file's content change comes with its unified diff (secrets redacted). */
  note(change: string, diff?: string): void
}

export interface Ownership {
  /** Permission bits, e.g. 0o600 or 0o2770 (setgid directory). */
  mode: number
  /** User and group names; root when left out. */
  owner?: string
  group?: string
}

const octal = (mode: number) => mode.toString(8).padStart(4, '0')

async function statOrUndefined(path: string) {
  return lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
}

/** uid and gid for the names, or undefined when they do not exist (yet: under --check, before the user step ran). */
async function resolveIds(spec: Ownership): Promise<{ uid: number; gid: number } | undefined> {
  const accounts = await readAccounts()
  const user = accounts.user(spec.owner ?? 'root')
  const group = accounts.group(spec.group ?? spec.owner ?? 'root')
  if (user === undefined || group === undefined) return undefined
  return { uid: user.uid, gid: group.gid }
}

async function idsOrFail(ctx: FileContext, path: string, spec: Ownership) {
  const ids = await resolveIds(spec)
  if (ids === undefined && !ctx.check) {
    throw new Error(`cannot own ${path} by ${spec.owner ?? 'root'}:${spec.group ?? spec.owner ?? 'root'}: no such user or group`)
  }
  return ids
}

/** Fixes mode and owner of an existing path; notes what it changed. */
async function ensureOwnership(ctx: FileContext, path: string, spec: Ownership, ids: { uid: number; gid: number } | undefined): Promise<boolean> {
  const stats = await lstat(path)
  let changed = false
  if ((stats.mode & 0o7777) !== spec.mode) {
    ctx.note(`chmod ${octal(stats.mode & 0o7777)} → ${octal(spec.mode)} ${path}`)
    if (!ctx.check) await chmod(path, spec.mode)
    changed = true
  }
  if (ids === undefined || stats.uid !== ids.uid || stats.gid !== ids.gid) {
    const accounts = await readAccounts()
    const now = `${accounts.userName(stats.uid) ?? stats.uid}:${accounts.groupName(stats.gid) ?? stats.gid}`
    ctx.note(`chown ${now} → ${spec.owner ?? 'root'}:${spec.group ?? spec.owner ?? 'root'} ${path}`)
    if (!ctx.check && ids !== undefined) {
      await chown(path, ids.uid, ids.gid)
      // chown clears setuid/setgid bits on some systems: set the mode again.
      await chmod(path, spec.mode)
    }
    changed = true
  }
  return changed
}

/**
 * Checks a config once it is in place (`nginx -t`): when it throws, the file is put back as it was (or
 * removed when it is new) and the error goes on, so the running service and the next boot keep the last
 * good config.
 */
export type Validate = () => Promise<unknown>

async function validated(path: string, previous: Buffer | undefined, validate: Validate | undefined): Promise<void> {
  if (validate === undefined) return
  try {
    await validate()
  } catch (err) {
    if (previous === undefined) await rm(path, { force: true })
    else await writeFile(path, previous)
    throw new Error(`${path} did not validate; ${previous === undefined ? 'removed again' : 'the previous one is back in place'}:\n${validationMessage(err)}`)
  }
}

/** zx's ProcessOutput says why on stderr; anything else by its message. */
function validationMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'stderr' in err && typeof err.stderr === 'string' && err.stderr.trim() !== '') return err.stderr.trim()
  return err instanceof Error ? err.message : String(err)
}

/**
 * Makes `path` hold exactly `content` with the given mode and owner. Writes only when the content
 * differs (atomically: temp file + rename, so a reader never sees half a file); fixes mode and owner
 * when only they differ. Returns true when something changed (or, under --check, would change).
 * Given `validate`, a new content is checked in place and put back when it fails.
 */
export async function ensureFile(ctx: FileContext, path: string, content: string | Buffer, spec: Ownership, validate?: Validate): Promise<boolean> {
  const ids = await idsOrFail(ctx, path, spec)
  const stats = await statOrUndefined(path)
  const wanted = Buffer.isBuffer(content) ? content : Buffer.from(content)
  const current = stats?.isFile() === true ? await readFile(path) : undefined
  if (current?.equals(wanted) === true) return ensureOwnership(ctx, path, spec, ids)
  ctx.note(`${stats === undefined ? 'create' : 'write'} ${path}`, fileDiff(path, current, wanted))
  if (ctx.check) return true
  await mkdir(dirname(path), { recursive: true })
  const temp = `${path}.yoyo-${process.pid}.tmp`
  try {
    // Created with the final mode and owner before it gets its name: a secret is never readable by others.
    await writeFile(temp, wanted, { mode: 0o600 })
    await chown(temp, ids!.uid, ids!.gid)
    await chmod(temp, spec.mode)
    await rename(temp, path)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
  await validated(path, current, validate)
  return true
}

/**
 * Makes `path` an existing file with the given mode and owner, whatever it holds (a log: created empty
 * when missing, never rewritten).
 */
export async function ensureFileExists(ctx: FileContext, path: string, spec: Ownership): Promise<boolean> {
  const ids = await idsOrFail(ctx, path, spec)
  const stats = await statOrUndefined(path)
  if (stats !== undefined && !stats.isFile()) throw new Error(`${path} exists and is not a file`)
  if (stats !== undefined) return ensureOwnership(ctx, path, spec, ids)
  ctx.note(`create ${path} (empty, ${octal(spec.mode)} ${spec.owner ?? 'root'}:${spec.group ?? spec.owner ?? 'root'})`)
  if (ctx.check) return true
  await writeFile(path, '', { mode: 0o600, flag: 'wx' })
  await chown(path, ids!.uid, ids!.gid)
  await chmod(path, spec.mode)
  return true
}

/** Makes `path` a directory with the given mode and owner (not recursive: the parent must exist). */
export async function ensureDirectory(ctx: FileContext, path: string, spec: Ownership): Promise<boolean> {
  const ids = await idsOrFail(ctx, path, spec)
  const stats = await statOrUndefined(path)
  if (stats !== undefined && !stats.isDirectory()) throw new Error(`${path} exists and is not a directory`)
  if (stats !== undefined) return ensureOwnership(ctx, path, spec, ids)
  ctx.note(`mkdir ${path}`)
  if (ctx.check) return true
  await mkdir(path)
  await chown(path, ids!.uid, ids!.gid)
  await chmod(path, spec.mode)
  return true
}

/** Makes `link` a symbolic link to `target` (validated like a file: a link that fails goes away). */
export async function ensureSymlink(ctx: FileContext, link: string, target: string, validate?: Validate): Promise<boolean> {
  const stats = await statOrUndefined(link)
  if (stats?.isSymbolicLink() && (await readlink(link)) === target) return false
  ctx.note(`link ${link} → ${target}`)
  if (ctx.check) return true
  if (stats !== undefined) await rm(link, { force: true })
  await symlink(target, link)
  try {
    await validate?.()
  } catch (err) {
    await rm(link, { force: true })
    throw new Error(`${link} did not validate; removed again:\n${validationMessage(err)}`)
  }
  return true
}

/** Makes sure nothing is at `path` (a file or a link; directories are refused). */
export async function ensureAbsent(ctx: FileContext, path: string): Promise<boolean> {
  const stats = await statOrUndefined(path)
  if (stats === undefined) return false
  if (stats.isDirectory()) throw new Error(`refusing to remove the directory ${path}`)
  ctx.note(`remove ${path}`)
  if (!ctx.check) await rm(path)
  return true
}

/**
 * Makes a config file we do not own (a package's) contain `line`, appending it when missing and
 * keeping the file's mode and owner. Used for one `include` line in /etc/redis/redis.conf.
 */
export async function ensureLine(ctx: FileContext, path: string, line: string, comment: string): Promise<boolean> {
  const text = await readFile(path, 'utf8')
  if (text.split('\n').some((existing) => existing.trim() === line)) return false
  ctx.note(`append "${line}" to ${path}`)
  if (ctx.check) return true
  const stats = await lstat(path)
  const temp = `${path}.yoyo-${process.pid}.tmp`
  const separator = text.endsWith('\n') || text === '' ? '' : '\n'
  await writeFile(temp, `${text}${separator}\n# ${comment}\n${line}\n`, { mode: 0o600 })
  await chown(temp, stats.uid, stats.gid)
  await chmod(temp, stats.mode & 0o7777)
  await rename(temp, path)
  return true
}

/** The file's text, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
}

/**
 * The last `lines` lines of a log, read from its last `bytes` only: a service's log can outgrow what one
 * string holds, and a failure message needs its end. '' when the file does not exist.
 */
export async function readTail(path: string, lines: number, bytes = 64 * 1024): Promise<string> {
  const file = await open(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  if (file === undefined) return ''
  try {
    const { size } = await file.stat()
    const length = Math.min(size, bytes)
    const { buffer } = await file.read(Buffer.alloc(length), 0, length, size - length)
    const text = buffer.toString('utf8').trimEnd().split('\n')
    // When the read starts mid-file, its first line is cut: it is dropped unless it is all there is.
    if (size > length && text.length > 1) text.shift()
    return text.slice(-lines).join('\n')
  } finally {
    await file.close()
  }
}
