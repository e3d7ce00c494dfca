import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdir, readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

export const run = promisify(execFile)

export interface Target {
  child: ChildProcess
  /** The first line the target printed (its port, or "ready"). */
  firstLine: string
  stop(): Promise<void>
}

/** Starts one of bench/targets/*.ts as its own Node process (through tsx) and waits for its first line. */
export async function startTarget(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, readyMs = 20_000): Promise<Target> {
  const file = fileURLToPath(new URL(`../targets/${name}`, import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '', ...env },
  })
  const lines = createInterface({ input: child.stdout! })
  const first = once(lines, 'line').then(([line]) => String(line))
  const exited = once(child, 'exit').then(() => {
    throw new Error(`bench target ${name} exited before it was ready`)
  })
  const timeout = sleep(readyMs, undefined, { ref: false }).then(() => {
    throw new Error(`bench target ${name} not ready after ${readyMs / 1000} s`)
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const gone = once(child, 'exit')
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
    await gone
    clearTimeout(timer)
  }
  try {
    const firstLine = await Promise.race([first, exited, timeout])
    exited.catch(() => {})
    timeout.catch(() => {})
    return { child, firstLine, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Parent pid of a pid, from /proc. */
async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(rest[1] ?? 0)
}

async function ancestors(): Promise<Set<number>> {
  const seen = new Set<number>()
  let pid = process.pid
  while (pid > 1 && !seen.has(pid)) {
    seen.add(pid)
    pid = await parentOf(pid)
  }
  return seen
}

/**
 * Waits (up to `maxMs`) until no CI run (`bash .ci/run`) uses the provisioned platform, unless this
 * benchmark is itself part of that CI run. Returns how long it waited.
 */
export async function waitForCi(maxMs: number, log: (line: string) => void): Promise<number> {
  const started = Date.now()
  const mine = await ancestors()
  let told = false
  for (;;) {
    const { stdout } = await run('pgrep', ['-f', 'bash .ci/run']).catch(() => ({ stdout: '' }))
    const others = stdout.split('\n').filter(Boolean).map(Number).filter((pid) => !mine.has(pid))
    if (others.length === 0) return Date.now() - started
    if (Date.now() - started > maxMs) throw new Error(`a CI run (pid ${others.join(', ')}) is still using the platform after ${maxMs / 1000} s`)
    if (!told) log(`waiting for the CI run (pid ${others.join(', ')}) to finish before loading the platform...`)
    told = true
    await sleep(5000)
  }
}

/** The pids whose parent is `pid` (e.g. nginx's workers under its master), from /proc. */
export async function childrenOf(pid: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number)
  const parents = await Promise.all(pids.map((p) => parentOf(p)))
  return pids.filter((_, i) => parents[i] === pid)
}
