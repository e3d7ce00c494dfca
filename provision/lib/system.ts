import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { AccountDatabase } from './accounts.ts'

/** systemd manages services only when it is PID 1 (not in containers and most CI machines). */
export async function hasSystemd(): Promise<boolean> {
  if (!existsSync('/run/systemd/system')) return false
  const init = await readFile('/proc/1/comm', 'utf8').catch(() => '')
  return init.trim() === 'systemd'
}

/** The pid in `pidFile` when that process is alive (and, given `name`, its command starts with it). */
export async function runningPid(pidFile: string, name?: string): Promise<number | undefined> {
  const text = await readFile(pidFile, 'utf8').catch(() => '')
  const pid = Number.parseInt(text.trim(), 10)
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => undefined)
  if (comm === undefined) return undefined
  if (name !== undefined && !comm.trim().startsWith(name.slice(0, 15))) return undefined
  return pid
}

/** The humans who get PM2 access: whoever ran sudo, and the Vagrant box's user. */
export function loginUsers(env: Record<string, string | undefined>, accounts: AccountDatabase): string[] {
  const candidates = [env.SUDO_USER, 'vagrant'].filter((name): name is string => name !== undefined && name !== '' && name !== 'root')
  return [...new Set(candidates)].filter((name) => accounts.user(name) !== undefined)
}

/** A PATH with the given Node.js bin directory first (npm scripts and PM2 then use that Node.js). */
export function pathWith(binDir: string): string {
  return [binDir, '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
    .filter((dir, index, all) => all.indexOf(dir) === index)
    .join(':')
}

// Proxy and CA settings of the machine (a company proxy that inspects TLS, a registry mirror):
// commands that reach the network as the app user get them, as the provisioner itself had them.
const networkVariables = /^(https?_proxy|no_proxy|HTTPS?_PROXY|NO_PROXY|NODE_EXTRA_CA_CERTS|npm_config_[a-z_]+)$/

export function networkEnvironment(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => networkVariables.test(entry[0]) && entry[1] !== undefined && entry[1] !== ''),
  )
}
