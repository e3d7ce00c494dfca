import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ensureAbsent, ensureDirectory, ensureFile, ensureLine, ensureSymlink, type FileContext, readTail } from '../../provision/lib/files.ts'

// Tests run as root (CI and the dev machine): owner 'root' is the user that exists everywhere.
function context(check = false): FileContext & { changes: string[]; diffs: string[] } {
  const changes: string[] = []
  const diffs: string[] = []
  return {
    check,
    changes,
    diffs,
    note: (change, diff) => {
      changes.push(change)
      if (diff !== undefined) diffs.push(diff)
    },
  }
}

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-files-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

const mode = async (path: string) => (await lstat(path)).mode & 0o7777

t.test('when a file is missing, then ensureFile creates it with the mode and reports a change', async (t) => {
  const dir = await tempDir(t)
  const ctx = context()
  t.equal(await ensureFile(ctx, join(dir, 'a.conf'), 'hello\n', { mode: 0o600 }), true)
  t.equal(await readFile(join(dir, 'a.conf'), 'utf8'), 'hello\n')
  t.equal(await mode(join(dir, 'a.conf')), 0o600)
  t.same(ctx.changes, [`create ${join(dir, 'a.conf')}`])
})

t.test('when the content is the same, then ensureFile does not write and reports nothing', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'a.conf')
  await ensureFile(context(), path, 'same\n', { mode: 0o644 })
  const before = await lstat(path)
  const ctx = context()
  t.equal(await ensureFile(ctx, path, 'same\n', { mode: 0o644 }), false)
  t.same(ctx.changes, [])
  t.equal((await lstat(path)).ino, before.ino, 'the same file: not replaced')
  t.equal((await lstat(path)).mtimeMs, before.mtimeMs)
})

t.test('when the content differs, then ensureFile replaces it atomically and leaves no temp file', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'a.conf')
  await ensureFile(context(), path, 'old\n', { mode: 0o644 })
  const ctx = context()
  t.equal(await ensureFile(ctx, path, 'new\n', { mode: 0o644 }), true)
  t.equal(await readFile(path, 'utf8'), 'new\n')
  t.same(ctx.changes, [`write ${path}`])
  t.same(ctx.diffs, [`--- ${path}\n+++ ${path}\n@@ -1,1 +1,1 @@\n-old\n+new\n`], 'with its unified diff')
  const { readdir } = await import('node:fs/promises')
  t.same(await readdir(dir), ['a.conf'])
})

t.test('when only the mode differs, then ensureFile fixes the mode without rewriting', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'secret.env')
  await writeFile(path, 'X=1\n')
  await chmod(path, 0o644)
  const ctx = context()
  t.equal(await ensureFile(ctx, path, 'X=1\n', { mode: 0o600 }), true)
  t.equal(await mode(path), 0o600)
  t.same(ctx.changes, [`chmod 0644 → 0600 ${path}`])
})

t.test('when run under --check, then ensureFile reports the drift and writes nothing', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'a.conf')
  await writeFile(path, 'old\n')
  await chmod(path, 0o644)
  const ctx = context(true)
  t.equal(await ensureFile(ctx, path, 'new\n', { mode: 0o600 }), true)
  t.equal(await readFile(path, 'utf8'), 'old\n')
  t.equal(await mode(path), 0o644)
  const missing = context(true)
  t.equal(await ensureFile(missing, join(dir, 'b.conf'), 'x', { mode: 0o600 }), true)
  t.same(missing.changes, [`create ${join(dir, 'b.conf')}`])
  await t.rejects(readFile(join(dir, 'b.conf')))
})

t.test('when the owner does not exist, then ensureFile fails naming it (and --check reports drift)', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'a.conf')
  await t.rejects(ensureFile(context(), path, 'x', { mode: 0o600, owner: 'no-such-user-yoyo' }), /no-such-user-yoyo: no such user or group/)
  await t.rejects(readFile(path), { code: 'ENOENT' }, 'nothing written')
  const ctx = context(true)
  t.equal(await ensureFile(ctx, path, 'x', { mode: 0o600, owner: 'no-such-user-yoyo' }), true)
})

t.test('when a directory is missing or has another mode, then ensureDirectory makes it so (setgid included)', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'pm2')
  const ctx = context()
  t.equal(await ensureDirectory(ctx, path, { mode: 0o2770 }), true)
  t.equal(await mode(path), 0o2770)
  t.equal(await ensureDirectory(context(), path, { mode: 0o2770 }), false)
  await chmod(path, 0o755)
  const drift = context(true)
  t.equal(await ensureDirectory(drift, path, { mode: 0o2770 }), true)
  t.equal(await mode(path), 0o755, '--check changed nothing')
  t.equal(await ensureDirectory(context(), path, { mode: 0o2770 }), true)
  t.equal(await mode(path), 0o2770)
  await writeFile(join(dir, 'file'), '')
  await t.rejects(ensureDirectory(context(), join(dir, 'file'), { mode: 0o755 }), /is not a directory/)
})

t.test('when a link points elsewhere or is missing, then ensureSymlink fixes it; when right, nothing', async (t) => {
  const dir = await tempDir(t)
  const link = join(dir, 'enabled.conf')
  t.equal(await ensureSymlink(context(), link, '/etc/a'), true)
  t.equal(await readlink(link), '/etc/a')
  t.equal(await ensureSymlink(context(), link, '/etc/a'), false)
  t.equal(await ensureSymlink(context(true), link, '/etc/b'), true)
  t.equal(await readlink(link), '/etc/a', '--check changed nothing')
  t.equal(await ensureSymlink(context(), link, '/etc/b'), true)
  t.equal(await readlink(link), '/etc/b')
})

t.test('when a file or link exists, then ensureAbsent removes it; directories are refused', async (t) => {
  const dir = await tempDir(t)
  await symlink('/etc/nginx/sites-available/default', join(dir, 'default'))
  t.equal(await ensureAbsent(context(true), join(dir, 'default')), true)
  t.ok(await lstat(join(dir, 'default')), '--check kept it')
  t.equal(await ensureAbsent(context(), join(dir, 'default')), true)
  t.equal(await ensureAbsent(context(), join(dir, 'default')), false)
  await mkdir(join(dir, 'sub'))
  await t.rejects(ensureAbsent(context(), join(dir, 'sub')), /refusing/)
})

t.test('when a package config lacks our line, then ensureLine appends it once and keeps the file mode', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'redis.conf')
  await writeFile(path, 'port 6379\n# include /etc/redis/other.conf')
  await chmod(path, 0o640)
  const ctx = context()
  t.equal(await ensureLine(ctx, path, 'include /etc/redis/yoyo.conf', 'ours'), true)
  t.equal(await readFile(path, 'utf8'), 'port 6379\n# include /etc/redis/other.conf\n\n# ours\ninclude /etc/redis/yoyo.conf\n')
  t.equal(await mode(path), 0o640)
  t.equal(await ensureLine(context(), path, 'include /etc/redis/yoyo.conf', 'ours'), false)
  const checked = context(true)
  t.equal(await ensureLine(checked, path, 'include /etc/redis/more.conf', 'more'), true)
  t.notMatch(await readFile(path, 'utf8'), /more\.conf/)
})

t.test('when a log is larger than the bytes read, then readTail returns its last whole lines; when missing, then \'\'', async (t) => {
  const dir = await tempDir(t)
  const log = join(dir, 'service-error.log')
  await writeFile(log, Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n') + '\n')
  t.equal(await readTail(log, 3), 'line 1997\nline 1998\nline 1999', 'last three lines')
  const tail = (await readTail(log, 1000, 100)).split('\n')
  t.ok(tail.every((line) => /^line \d+$/.test(line)), 'no line cut in half at the start of the read')
  t.equal(tail.at(-1), 'line 1999', 'ends at the last line')
  t.ok(tail.length < 15, `only the last 100 bytes read (${tail.length} lines)`)
  await writeFile(join(dir, 'short.log'), 'only line')
  t.equal(await readTail(join(dir, 'short.log'), 15), 'only line', 'a short file whole')
  t.equal(await readTail(join(dir, 'absent.log'), 15), '', 'a missing file is empty')
})

t.test('when a file with secrets would change under --check, then its diff shows every change and no secret', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'platform.env')
  await writeFile(path, 'JWT_SECRET=old-secret-value\nREDIS_URL=redis://:old-pw@127.0.0.1:6379/0\nLOG_LEVEL=info\n', { mode: 0o600 })
  const ctx = context(true)
  await ensureFile(ctx, path, 'JWT_SECRET=new-secret-value\nREDIS_URL=redis://:old-pw@127.0.0.1:6379/0\nLOG_LEVEL=debug\n', { mode: 0o600 })
  t.same(ctx.changes, [`write ${path}`])
  const diff = ctx.diffs[0] ?? ''
  t.match(diff, /^-JWT_SECRET=<redacted>$/m, 'the old secret, redacted')
  t.match(diff, /^\+JWT_SECRET=<redacted> \(changed\)$/m, 'the new one, marked changed')
  t.match(diff, /^ REDIS_URL=<redacted>$/m, 'an unchanged secret line, as context')
  t.match(diff, /^-LOG_LEVEL=info\n\+LOG_LEVEL=debug$/m)
  for (const secret of ['old-secret-value', 'new-secret-value', 'old-pw']) t.notMatch(diff, secret, `${secret} never appears`)
  t.equal(await readFile(path, 'utf8'), 'JWT_SECRET=old-secret-value\nREDIS_URL=redis://:old-pw@127.0.0.1:6379/0\nLOG_LEVEL=info\n', 'nothing written')
})

t.test('when a file is created, then its diff is against /dev/null', async (t) => {
  const dir = await tempDir(t)
  const ctx = context(true)
  await ensureFile(ctx, join(dir, 'redis.conf'), 'port 6379\nrequirepass s3cr3t-pw\n', { mode: 0o640 })
  t.equal(ctx.diffs[0], `--- /dev/null\n+++ ${join(dir, 'redis.conf')}\n@@ -0,0 +1,2 @@\n+port 6379\n+requirepass <redacted>\n`)
})
