// Builds the container image (deploy/container/Containerfile) with podman where no registry can be
// reached: the Containerfile's base (node:<version>-bookworm-slim) is replaced by a local stand-in under
// the very same name, made from a Debian 12 minbase root (debootstrap, from the mirror this machine's
// apt uses) and the Node.js and npm that provision/bootstrap.sh pins (version and sha512 read from it,
// checked before unpacking). The stand-in is kept between runs: it is built only when `podman image
// exists` says it is missing. The image itself is then built with --pull=never.
//
// podman runs with the runc runtime (crun cannot set rlimits here: hybrid cgroups) and explicit ulimits.
import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { arch } from 'node:os'
import { join } from 'node:path'

export const repoRoot = join(import.meta.dirname, '..', '..')
export const containerfile = join(repoRoot, 'deploy', 'container', 'Containerfile')

/** Global podman options: the runtime that works here. */
export const podmanGlobal = ['--runtime', 'runc']
/** Per container (and per build step): crun's and runc's defaults cannot be set here, these can. */
export const ulimits = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024']

export interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs a program, never longer than `timeoutMs`; resolves with its exit code and output (never throws). */
export function run(file: string, args: string[], options: { timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, cwd: options.cwd ?? repoRoot, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err !== null && (err as { killed?: boolean }).killed ? `\n(killed after ${options.timeoutMs ?? 60_000} ms)` : '') })
    })
    if (options.input !== undefined) child.stdin?.end(options.input)
  })
}

/** Like run(), but throws with the command and the tail of its output when it fails. */
export async function must(file: string, args: string[], options: { timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<string> {
  const result = await run(file, args, options)
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')}: exit ${result.code}\n${(result.stderr || result.stdout).slice(-3000)}`)
  return result.stdout
}

export const podman = (args: string[], timeoutMs = 60_000): Promise<Run> => run('podman', [...podmanGlobal, ...args], { timeoutMs })

/** The Node.js and npm pins of provision/bootstrap.sh: the one place they are written. */
export function nodePins(): { version: string; integrity: string; npmVersion: string; npmIntegrity: string; arch: 'x64' | 'arm64' } {
  const text = readFileSync(join(repoRoot, 'provision', 'bootstrap.sh'), 'utf8')
  const value = (name: string): string => {
    const found = new RegExp(`^${name}='?([^'\\n]+)'?$`, 'm').exec(text)?.[1]
    if (found === undefined) throw new Error(`provision/bootstrap.sh sets no ${name}`)
    return found
  }
  const cpu = arch() === 'arm64' ? 'arm64' : 'x64'
  return {
    version: value('NODE_VERSION'),
    integrity: value(cpu === 'arm64' ? 'NODE_INTEGRITY_ARM64' : 'NODE_INTEGRITY_X64'),
    npmVersion: value('NPM_VERSION'),
    npmIntegrity: value('NPM_INTEGRITY'),
    arch: cpu,
  }
}

/** The base image the Containerfile names (its `ARG NODE_IMAGE=` default). */
export function baseImageName(): string {
  const found = /^ARG NODE_IMAGE=(\S+)$/m.exec(readFileSync(containerfile, 'utf8'))?.[1]
  if (found === undefined) throw new Error(`${containerfile} has no ARG NODE_IMAGE=<image> line`)
  return found
}

/** The Debian mirror apt uses on this machine (deb822 .sources or one-line .list files). */
export function debianMirror(): string {
  const files = ['/etc/apt/sources.list']
  if (existsSync('/etc/apt/sources.list.d')) {
    for (const name of readdirSync('/etc/apt/sources.list.d').sort()) {
      if (name.endsWith('.sources') || name.endsWith('.list')) files.push(join('/etc/apt/sources.list.d', name))
    }
  }
  for (const file of files) {
    if (!existsSync(file)) continue
    const text = readFileSync(file, 'utf8')
    // deb822: a stanza with URIs and a Suites line naming bookworm (not bookworm-security).
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1]
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? []
      if (uri !== undefined && suites.includes('bookworm') && !/^Enabled:\s*no/im.test(stanza)) return uri
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text)?.[1]
    if (line !== undefined) return line
  }
  return 'http://deb.debian.org/debian'
}

async function download(url: string, integrity: string): Promise<Buffer> {
  let lastError: unknown
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(120_000) })
      if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`)
      const body = Buffer.from(await response.arrayBuffer())
      const actual = `sha512-${createHash('sha512').update(body).digest('base64')}`
      // Checked before anything is unpacked, as bootstrap.sh does.
      if (actual !== integrity) throw new Error(`integrity check failed for ${url}: expected ${integrity}, got ${actual}`)
      return body
    } catch (err) {
      lastError = err
      if (err instanceof Error && err.message.startsWith('integrity')) throw err
    }
  }
  throw lastError
}

export type Log = (line: string) => void

/**
 * Makes sure the Containerfile's base exists locally: when it does not, builds the stand-in (about 30 s
 * for debootstrap plus the Node.js download) and tags it with the base's name. Returns whether it built.
 */
export async function ensureStandInBase(log: Log): Promise<{ name: string; built: boolean; ms: number }> {
  const started = performance.now()
  const name = baseImageName()
  const pins = nodePins()
  const tag = /:([^:@/]+)(?:@|$)/.exec(name)?.[1] ?? ''
  if (!tag.startsWith(`${pins.version}-`)) throw new Error(`the Containerfile's base ${name} is not Node.js ${pins.version}, the version provision/bootstrap.sh pins`)
  if ((await podman(['image', 'exists', name])).code === 0) return { name, built: false, ms: performance.now() - started }

  const mirror = debianMirror()
  log(`building the stand-in for ${name}: Debian bookworm minbase from ${mirror}, Node.js ${pins.version} and npm ${pins.npmVersion} from the npm registry`)
  const work = await mkdtemp('/var/tmp/yoyo-base-')
  try {
    const root = join(work, 'root')
    const registry = (process.env.NPM_REGISTRY ?? 'https://registry.npmjs.org').replace(/\/+$/, '')
    const [, node, npm] = await Promise.all([
      must('debootstrap', ['--variant=minbase', 'bookworm', root, mirror], { timeoutMs: 300_000 }),
      download(`${registry}/node-linux-${pins.arch}/-/node-linux-${pins.arch}-${pins.version}.tgz`, pins.integrity),
      download(`${registry}/npm/-/npm-${pins.npmVersion}.tgz`, pins.npmIntegrity),
    ])
    // As Debian's slim images: no package cache, lists, docs, manuals or translations.
    for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale']) {
      await must('find', [join(root, dir), '-mindepth', '1', '-delete'], { timeoutMs: 60_000 })
    }
    // The layout of the official image: node in /usr/local/bin, npm in /usr/local/lib/node_modules.
    await writeFile(join(work, 'node.tgz'), node)
    await writeFile(join(work, 'npm.tgz'), npm)
    await must('tar', ['-xzf', join(work, 'node.tgz'), '-C', join(root, 'usr', 'local'), '--strip-components=1', '--no-same-owner', 'package/bin/node'])
    const npmDir = join(root, 'usr', 'local', 'lib', 'node_modules', 'npm')
    await mkdir(npmDir, { recursive: true })
    await must('tar', ['-xzf', join(work, 'npm.tgz'), '-C', npmDir, '--strip-components=1', '--no-same-owner'])
    await must('ln', ['-s', '../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr', 'local', 'bin', 'npm')])
    await must('ln', ['-s', '../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr', 'local', 'bin', 'npx')])
    // The official image's user.
    await must('chroot', [root, 'groupadd', '--gid', '1000', 'node'])
    await must('chroot', [root, 'useradd', '--uid', '1000', '--gid', 'node', '--shell', '/bin/bash', '--create-home', 'node'])
    const tarball = join(work, 'root.tar')
    await must('tar', ['-C', root, '--numeric-owner', '-cf', tarball, '.'], { timeoutMs: 120_000 })
    await must('podman', [
      ...podmanGlobal, 'import',
      '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change', `ENV NODE_VERSION=${pins.version}`,
      '--change', 'CMD ["node"]',
      '--change', `LABEL yoyo-platform.stand-in="Debian bookworm minbase and Node.js ${pins.version}: a local stand-in for ${name}"`,
      tarball, name,
    ], { timeoutMs: 180_000 })
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  const ms = performance.now() - started
  log(`stand-in base ${name} built in ${(ms / 1000).toFixed(1)} s`)
  return { name, built: true, ms }
}

/**
 * Builds the image from the repository (context: its root, .containerignore applies) with --pull=never,
 * in docker format (which keeps the HEALTHCHECK). Behind a TLS-intercepting proxy npm needs its CA: the
 * file NODE_EXTRA_CA_CERTS names is handed to the build as the secret extra_ca (never stored in a layer).
 */
export async function buildImage(tag: string, log: Log, options: { timeoutMs?: number } = {}): Promise<{ ms: number; output: string }> {
  const started = performance.now()
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
  const revision = (await run('git', ['rev-parse', 'HEAD'], { timeoutMs: 10_000 })).stdout.trim() || 'unknown'
  const ca = process.env.NODE_EXTRA_CA_CERTS
  const args = [
    ...podmanGlobal, 'build', '--pull=never', '--format', 'docker', '--network', 'host', ...ulimits,
    '--layers', '--jobs', '1',
    '--build-arg', `VERSION=${pkg.version}`, '--build-arg', `REVISION=${revision}`, '--build-arg', `CREATED=${new Date().toISOString()}`,
    ...(ca !== undefined && ca !== '' && existsSync(ca) ? ['--secret', `id=extra_ca,src=${ca}`] : []),
    '-f', containerfile, '-t', tag, repoRoot,
  ]
  log(`podman ${args.join(' ')}`)
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn('podman', args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(text)
      else reject(new Error(`podman build: exit ${code}\n${text.slice(-4000)}`))
    })
  })
  return { ms: performance.now() - started, output }
}

/**
 * The Redis/nginx testbed image (test/container/Containerfile.testbed: Debian's redis-server and nginx on
 * the base), tagged with a hash of that file and the base's id; built once per machine and kept.
 */
export async function ensureTestbed(baseName: string): Promise<{ name: string; ms: number }> {
  const started = performance.now()
  const testbedFile = join(repoRoot, 'test', 'container', 'Containerfile.testbed')
  const baseId = (await must('podman', [...podmanGlobal, 'image', 'inspect', '--format', '{{.Id}}', baseName])).trim()
  const name = `localhost/yoyo-platform-testbed:${createHash('sha256').update(baseId).update(readFileSync(testbedFile)).digest('hex').slice(0, 12)}`
  if ((await podman(['image', 'exists', name])).code !== 0) {
    await must('podman', [...podmanGlobal, 'build', '--pull=never', '--network', 'host', ...ulimits, '--build-arg', `BASE=${baseName}`, '-f', testbedFile, '-t', name, join(repoRoot, 'test', 'container')], { timeoutMs: 300_000 })
  }
  return { name, ms: performance.now() - started }
}

/** An image's size as podman counts it (the sum of its layers, uncompressed), in bytes. */
export async function imageSize(name: string): Promise<number> {
  const size = Number((await must('podman', [...podmanGlobal, 'image', 'inspect', '--format', '{{.Size}}', name])).trim())
  if (!Number.isFinite(size) || size <= 0) throw new Error(`podman image inspect gave no size for ${name}`)
  return size
}

export const megabytes = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`

/**
 * Whether `name` belongs to a test run that is gone: `pattern` captures the run's pid, and no process
 * has it any more (and it is not this run's, `ownPid`). What a run killed outright (SIGKILL: no teardown
 * ran) left behind is found this way by the next one.
 */
export function isDeadRun(name: string, pattern: RegExp, ownPid: number): boolean {
  const pid = Number(pattern.exec(name)?.[1] ?? 0)
  if (pid <= 0 || pid === ownPid) return false
  try {
    process.kill(pid, 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'EPERM'
  }
}

/** The first word of each non-empty line (a name in podman's and ip's listings). */
export const firstWords = (text: string): string[] => text.split('\n').map((line) => line.trim().split(' ')[0] ?? '').filter((line) => line !== '')
