// The platform as its users reach it, with the real command-line clients: HTTPie (`http`) and curl
// through nginx, PM2 as a login user in group yoyo (`su - <user> -c 'pm2 ...'`), the provisioner as
// root. Every command is bounded; every failure says what was run and what came back.
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import path from 'node:path'
// zx/core, not zx: under tap's process-info loader on Node 24, the root entry's named exports (an ESM
// wrapper over a CommonJS bundle) come out undefined.
import { $, type Duration, type ProcessOutput } from 'zx/core'
import { parsePm2List } from '../../provision/lib/pm2-list.ts'

// Commands' output is the test's to show (in its assertion messages), not zx's to print as it goes.
$.quiet = true

export const repoRoot = path.resolve(import.meta.dirname, '../..')

/** Where nginx answers: PLATFORM_URL, default http://127.0.0.1:80. */
export const platformUrl = (process.env.PLATFORM_URL ?? 'http://127.0.0.1:80').replace(/\/+$/, '')

/** HTTPie's URL for a path: the README's shorthand (`:80/authentication/token`) unless PLATFORM_URL is set. */
export const httpieUrl = (urlPath: string): string => (process.env.PLATFORM_URL ? `${platformUrl}${urlPath}` : `:80${urlPath}`)

export interface Reply {
  status: number
  /** Header names in lower case. */
  headers: Record<string, string>
  /** The parsed JSON body, or undefined when the body is not JSON. */
  body: unknown
  text: string
}

const clip = (text: string, length = 400): string => (text.length > length ? `${text.slice(0, length)}…` : text)

/** A response as `http --print=hb` and `curl -i` print it: status line, headers, blank line, body. */
export function parseResponse(raw: string, what: string): Reply {
  const normalized = raw.replace(/\r\n/g, '\n')
  const split = normalized.indexOf('\n\n')
  const head = split === -1 ? normalized : normalized.slice(0, split)
  const text = split === -1 ? '' : normalized.slice(split + 2).trim()
  const [statusLine = '', ...headerLines] = head.split('\n')
  const status = /^HTTP\/[\d.]+ (\d{3})/.exec(statusLine)
  if (!status) throw new Error(`${what}: no HTTP response in the output: ${clip(raw)}`)
  const headers: Record<string, string> = {}
  for (const line of headerLines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: Number(status[1]), headers, body, text }
}

function replyOf(output: ProcessOutput, what: string): Reply {
  if (output.exitCode !== 0) {
    throw new Error(`${what}: exit code ${String(output.exitCode)}${output.signal ? ` (${output.signal})` : ''}: ${clip(output.stderr.trim() || output.stdout)}`)
  }
  return parseResponse(output.stdout, what)
}

/**
 * HTTPie with the README's arguments (`--form POST <url> username=alice ...`). --ignore-stdin: its stdin
 * here is a pipe, which HTTPie would otherwise read as the request body.
 */
export async function httpie(args: string[]): Promise<Reply> {
  const output = await $({ nothrow: true, timeout: '20s' })`http --ignore-stdin --print=hb --pretty=none --timeout=10 ${args}`
  return replyOf(output, `http ${args.join(' ')}`)
}

/** curl, headers included in the output (-i). */
export async function curl(args: string[]): Promise<Reply> {
  const output = await $({ nothrow: true, timeout: '20s' })`curl -sS -i --max-time 10 ${args}`
  return replyOf(output, `curl ${args.join(' ')}`)
}

export const describeReply = (reply: Reply): string => `HTTP ${reply.status} ${clip(reply.text, 300)}`

/** A token for a development user (password `password`), JSON body with curl. */
export async function tokenFor(username: string, password = 'password'): Promise<string> {
  const reply = await curl(['-H', 'content-type: application/json', '--data', JSON.stringify({ username, password }), `${platformUrl}/authentication/token`])
  const token = (reply.body as { token?: unknown } | undefined)?.token
  if (reply.status !== 200 || typeof token !== 'string') throw new Error(`token for ${username}: ${describeReply(reply)}`)
  return token
}

/**
 * Tokens live 30 s (TOKEN_TTL_SECONDS): a session asks for a fresh one when its token is 10 s old, so a
 * long poll never runs into an expiry. Token issuing is rate-limited (10/s per IP): it is not asked more.
 */
export function session(username: string): () => Promise<string> {
  let token: string | undefined
  let issuedAt = 0
  return async () => {
    if (token === undefined || Date.now() - issuedAt > 10_000) {
      token = await tokenFor(username)
      issuedAt = Date.now()
    }
    return token
  }
}

export interface Loyalty {
  user_id: number
  stamps: number
  vouchers: unknown[]
  vouchers_total: number
  transactions: number
}

/** GET /loyalty/me with a Bearer header (curl). */
export async function loyaltyOf(token: string): Promise<Loyalty> {
  const reply = await curl(['-H', `Authorization: Bearer ${token}`, `${platformUrl}/loyalty/me`])
  const account = reply.body as Loyalty | undefined
  if (reply.status !== 200 || typeof account?.stamps !== 'number' || typeof account.transactions !== 'number' || !Array.isArray(account.vouchers) || typeof account.vouchers_total !== 'number') {
    throw new Error(`GET /loyalty/me: ${describeReply(reply)}`)
  }
  return account
}

/** Every stamp ever earned: those held plus those exchanged for vouchers. */
export const stampsEarned = (account: Loyalty, stampsPerVoucher: number): number => account.stamps + account.vouchers_total * stampsPerVoucher

export const showLoyalty = (account: Loyalty): string =>
  `${account.transactions} transaction(s), ${account.stamps} stamp(s), ${account.vouchers_total} voucher(s)`

export type Probe<T> = { done: true, value: T } | { done: false, seen: string }

/**
 * Polls `probe` every `intervalMs` until it is done, for at most `timeoutMs`; then fails naming what
 * was awaited and what was last seen (a probe that throws counts as not done, its error is the state).
 */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<Probe<T>>, intervalMs = 250): Promise<T> {
  const started = Date.now()
  let seen = 'nothing yet'
  for (;;) {
    try {
      const result = await probe()
      if (result.done) return result.value
      seen = result.seen
    } catch (error) {
      seen = error instanceof Error ? error.message : String(error)
    }
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s; last seen: ${seen}`)
    await sleep(intervalMs)
  }
}

/** A login shell of `user` (`su -`): their groups, their PATH, /etc/profile.d, as after an SSH login. */
export function asUser(user: string, command: string, timeout: Duration = '60s'): Promise<ProcessOutput> {
  return $({ nothrow: true, timeout })`su - ${user} -c ${command}`
}

export interface Pm2Process {
  name: string
  pm_id: number
  pid: number
  pm2_env?: { status?: string, exec_mode?: string, env?: Record<string, string> }
}

function processList(output: ProcessOutput, who: string): Pm2Process[] {
  if (output.exitCode !== 0) throw new Error(`pm2 jlist as ${who}: exit code ${String(output.exitCode)}: ${clip(output.stderr.trim() || output.stdout)}`)
  const list = parsePm2List<Pm2Process>(output.stdout)
  if (list === undefined) throw new Error(`pm2 jlist as ${who} printed no JSON list: ${clip(output.stdout)}`)
  return list
}

/** `pm2 jlist` as `user` (no sudo): the one daemon's processes. The list is the last line that parses. */
export async function pm2List(user: string): Promise<Pm2Process[]> {
  return processList(await asUser(user, 'pm2 jlist'), user)
}

/**
 * `pm2 jlist` as root, through the same wrapper (/usr/local/bin/pm2 switches to the app user). Without
 * tap's NODE_OPTIONS loader, which the wrapper would pass on to PM2's Node.js (see provision()).
 */
export async function pm2ListAsRoot(): Promise<Pm2Process[]> {
  return processList(await $({ nothrow: true, timeout: '60s' })`env -u NODE_OPTIONS /usr/local/bin/pm2 jlist`, 'root')
}

export const instancesOf = (list: Pm2Process[], name: string): Pm2Process[] => list.filter((p) => p.name === name)

export const showProcesses = (list: Pm2Process[]): string =>
  list.map((p) => `${p.name}#${p.pm_id}:${p.pm2_env?.status ?? '?'}`).join(', ') || 'no processes'

/** Polls pm2 (as `user`) until `name` has exactly `count` instances, all online. */
export function waitForInstances(user: string, name: string, count: number, timeoutMs = 30_000): Promise<Pm2Process[]> {
  return waitFor(`${count} online '${name}' instances`, timeoutMs, async () => {
    const list = await pm2List(user)
    const instances = instancesOf(list, name)
    const online = instances.length === count && instances.every((p) => p.pm2_env?.status === 'online')
    return online ? { done: true, value: instances } : { done: false, seen: showProcesses(list) }
  }, 500)
}

export interface Recap {
  ok: number
  changed: number
  failed: number
  notRun: number
  line: string
}

/** The provisioner's closing line: `recap: 13 ok, 0 changed, 0 failed, 0 not run in 1.23s` (`would change` under --check). */
export function parseRecap(output: string): Recap {
  const match = /^recap: (\d+) ok, (\d+) (?:changed|would change), (\d+) failed, (\d+) not run\b.*$/m.exec(output)
  if (!match) throw new Error(`the provisioner printed no recap line:\n${output.trim().split('\n').slice(-20).join('\n')}`)
  return { ok: Number(match[1]), changed: Number(match[2]), failed: Number(match[3]), notRun: Number(match[4]), line: match[0] }
}

/**
 * `sh provision/bootstrap.sh <args>` as root from this checkout, as the README runs it (`sudo`), with
 * SUDO_USER set to the login user and the rest of this environment (NODE_LINK_DIR, platform settings).
 * Without tap's NODE_OPTIONS: its process-info loader (which tap puts back into every child's
 * environment, hence `env -u` in the command) breaks the provisioner's Node 24 module loading
 * ("provision: Cannot set properties of undefined (setting 'verbose')"). TAP_* are tap's, not the user's.
 */
export function provision(args: string[], loginUser: string, settings: Record<string, string> = {}): Promise<ProcessOutput> {
  const env = Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined && !/^(TAP|TAP_.*|_TAPJS_.*)$/.test(entry[0])))
  return $({ nothrow: true, timeout: '10m', cwd: repoRoot, env: { ...env, ...settings, SUDO_USER: loginUser } })`env -u NODE_OPTIONS sh provision/bootstrap.sh ${args}`
}

/** KEY=value lines of an env file (comments and blank lines skipped; no quoting, as the provisioner writes it). */
export async function readEnvFile(file: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {}
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
    if (match) entries[match[1] as string] = (match[2] as string).trim()
  }
  return entries
}

/** The local addresses listening on TCP `port` (`ss -Hltn`), e.g. `127.0.0.1`, `[::1]`, `*`, `0.0.0.0`. */
export async function listenersOn(port: number): Promise<string[]> {
  const output = await $`ss -Hltn`
  const addresses: string[] = []
  for (const line of output.stdout.split('\n')) {
    const local = line.trim().split(/\s+/)[3]
    if (local === undefined) continue
    const colon = local.lastIndexOf(':')
    if (Number(local.slice(colon + 1)) === port) addresses.push(local.slice(0, colon))
  }
  return addresses
}

export const isLoopback = (address: string): boolean => /^(127\.\d+\.\d+\.\d+|\[::1\]|::1)(%lo)?$/.test(address)
