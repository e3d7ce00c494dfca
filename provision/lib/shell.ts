import { createRequire } from 'node:module'
import type { ProcessPromise } from 'zx'

// zx's CommonJS build, which its ES module entry only re-exports: under tap's process-info loader on
// Node 24 those re-exports come out undefined, while the build itself loads the same everywhere.
const zx = createRequire(import.meta.url)('zx') as typeof import('zx')
export const { $, retry } = zx

let lastCommand: string | undefined

/**
 * zx for the provisioner: quiet unless --verbose (then zx prints each command and its output),
 * stdin closed (bash treats a socket on stdin as a remote login and would read root's .bashrc),
 * and the last command remembered so a failing step can name it.
 * Secrets never appear in a command line: they go through the environment or files.
 */
export function configureShell(verbose: boolean): void {
  $.verbose = verbose
  $.quiet = !verbose
  $.stdio = ['ignore', 'pipe', 'pipe']
  const print = $.log
  $.log = (entry) => {
    if (entry.kind === 'cmd') lastCommand = entry.cmd
    print(entry)
  }
}

export const getLastCommand = (): string | undefined => lastCommand

export interface AsUserOptions {
  env: Record<string, string>
  cwd?: string
}

/**
 * Runs `argv` as `user` (runuser keeps the given environment, which is ALL the command gets: no
 * variable of the provisioner's own environment leaks into the app's processes or PM2's saved list).
 */
export function runAs(user: string, argv: string[], options: AsUserOptions): ProcessPromise {
  const shell = $({ env: options.env, ...(options.cwd === undefined ? {} : { cwd: options.cwd }) })
  return shell`runuser -u ${user} -- ${argv}`
}
