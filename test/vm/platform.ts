// The platform as a user reaches it: HTTP through the guest's nginx (port 80, forwarded to a loopback
// port on this host), and PM2 / systemd as the login user `vagrant` sees them.
import { ProcessOutput, retry, sleep } from 'zx'
import type { Vm } from './vm.ts'
import { parsePm2List } from '../../provision/lib/pm2-list.ts'

export type Loyalty = { user_id: number, stamps: number, vouchers: unknown[], vouchers_total: number, transactions: number }

async function request(url: string, init: RequestInit): Promise<{ status: number, body: unknown, text: string }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) })
  const text = await response.text()
  let body: unknown
  try { body = JSON.parse(text) } catch { body = undefined }
  return { status: response.status, body, text }
}

/** POST /authentication/token as a form, the way the original API's clients sent it. Tokens live 30 s: ask per step. */
export async function token(baseUrl: string, username: string, password = 'password'): Promise<string> {
  const { status, body, text } = await request(`${baseUrl}/authentication/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username, password }).toString(),
  })
  const value = (body as { token?: unknown } | undefined)?.token
  if (status !== 200 || typeof value !== 'string') throw new Error(`POST /authentication/token as ${username}: ${status} ${text.slice(0, 300)}`)
  return value
}

/** POST /transactions with the token in the form body (as the issue's example does); expects 202. */
export async function transact(baseUrl: string, jwt: string, amount = 2000, currency = 'GBP'): Promise<string> {
  const { status, body, text } = await request(`${baseUrl}/transactions`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: jwt, amount: String(amount), currency }).toString(),
  })
  const id = (body as { id?: unknown } | undefined)?.id
  if (status !== 202 || typeof id !== 'string') throw new Error(`POST /transactions: expected 202 with an id, got ${status} ${text.slice(0, 300)}`)
  return id
}

export async function loyalty(baseUrl: string, jwt: string): Promise<Loyalty> {
  const { status, body, text } = await request(`${baseUrl}/loyalty/me`, { headers: { authorization: `Bearer ${jwt}` } })
  const account = body as Loyalty | undefined
  if (status !== 200 || typeof account?.stamps !== 'number' || typeof account.transactions !== 'number') {
    throw new Error(`GET /loyalty/me: ${status} ${text.slice(0, 300)}`)
  }
  return account
}

/** Polls /loyalty/me (with fresh tokens) until `done` holds; the worker awards asynchronously. */
export async function waitForLoyalty(baseUrl: string, username: string, done: (account: Loyalty) => boolean, timeoutMs: number): Promise<Loyalty> {
  const deadline = Date.now() + timeoutMs
  let last: Loyalty | undefined
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      last = await loyalty(baseUrl, await token(baseUrl, username))
      if (done(last)) return last
    } catch (error) {
      lastError = error
    }
    await sleep(2000)
  }
  throw new Error(`loyalty of ${username} not as expected after ${timeoutMs / 1000} s: last ${JSON.stringify(last)}${lastError ? `, last error: ${String(lastError)}` : ''}`)
}

/** A token as soon as the platform answers: after a boot nginx may answer 502 until the services listen. */
export async function tokenWhenUp(baseUrl: string, username: string, timeoutMs: number): Promise<string> {
  return retry(Math.ceil(timeoutMs / 3000), '3s', () => token(baseUrl, username))
}

export type Pm2Process = { name: string, pm_id: number, pid: number, pm2_env?: { status?: string, exec_mode?: string } }

/** `pm2 jlist` as the login user (no sudo): the processes of the platform's PM2 daemon. */
export async function pm2List(vm: Vm): Promise<Pm2Process[]> {
  const output = await vm.login('pm2 jlist')
  const list = parsePm2List<Pm2Process>(output.stdout)
  if (list === undefined) throw new Error(`pm2 jlist printed no JSON list: ${output.stdout.slice(0, 500)} ${output.stderr.slice(0, 500)}`)
  return list
}

export function online(processes: Pm2Process[], name: string): Pm2Process[] {
  return processes.filter(p => p.name === name && p.pm2_env?.status === 'online')
}

/** Polls pm2 until `name` has exactly `count` online instances. */
export async function waitForInstances(vm: Vm, name: string, count: number, timeoutMs: number): Promise<Pm2Process[]> {
  const deadline = Date.now() + timeoutMs
  let last: Pm2Process[] = []
  let lastError = ''
  while (Date.now() < deadline) {
    try {
      last = await pm2List(vm)
      lastError = ''
      if (online(last, name).length === count) return last
    } catch (error) {
      lastError = error instanceof ProcessOutput ? `pm2 exited ${error.exitCode}: ${(error.stderr || error.stdout).trim().slice(-500)}` : String(error)
    }
    await sleep(3000)
  }
  const seen = last.map(p => `${p.name}#${p.pm_id}:${p.pm2_env?.status}`).join(', ')
  throw new Error(`expected ${count} online '${name}' instances within ${timeoutMs / 1000} s; pm2 shows: ${seen || 'no process'}${lastError ? `; last attempt: ${lastError}` : ''}`)
}

/** The systemd unit that starts PM2 at boot: the one enabled unit named pm2*.service. */
export async function pm2Unit(vm: Vm): Promise<string> {
  const listing = await vm.ssh('systemctl list-unit-files --no-legend --state=enabled "pm2*.service"')
  const units = listing.stdout.split('\n').map(line => line.split(/\s+/)[0]).filter((unit): unit is string => !!unit)
  if (units.length !== 1) throw new Error(`expected one enabled pm2*.service unit, found: ${units.join(', ') || 'none'}`)
  return units[0] as string
}

/**
 * Waits until every unit is active (units may still be starting when SSH first answers after a boot).
 * Reads each unit's state: `systemctl is-active a b c` exits 0 when ANY of them is active.
 */
export async function waitForActive(vm: Vm, units: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const states = (await vm.ssh(`systemctl is-active ${units.join(' ')}`).nothrow()).stdout.trim().split('\n')
    if (units.every((_, i) => states[i] === 'active')) return
    if (Date.now() > deadline) {
      throw new Error(`units not active after ${timeoutMs / 1000} s: ${units.map((unit, i) => `${unit}=${states[i] ?? '?'}`).join(', ')}`)
    }
    await sleep(3000)
  }
}

/** A unit that started at boot without systemd killing or restarting it (a start timeout, a crash). */
export async function startedCleanly(vm: Vm, unit: string): Promise<void> {
  const show = await vm.ssh(`systemctl show ${unit} -p NRestarts -p Result -p TimeoutStartUSec`)
  const properties = Object.fromEntries(show.stdout.trim().split('\n').map(line => line.split('=', 2) as [string, string]))
  if (properties.NRestarts !== '0' || properties.Result !== 'success') {
    const journal = await vm.ssh(`sudo journalctl -b --no-pager -o short-monotonic -u ${unit} | grep -v '│' | tail -12`).nothrow()
    throw new Error(`${unit} was restarted ${properties.NRestarts} time(s) this boot (Result=${properties.Result}, ` +
      `TimeoutStartUSec=${properties.TimeoutStartUSec}):\n${journal.stdout.trim()}`)
  }
}
