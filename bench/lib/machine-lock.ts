// The machine lock (/tmp/yoyo-machine.lock): whoever re-provisions this machine, stops its services or
// loads its :80 holds it. A scenario that stops the machine's own platform holds it all along, through
// a `flock` child that keeps it until released (or until this process dies: its stdin closes).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile, stat } from 'node:fs/promises'

export const MACHINE_LOCK = process.env.YOYO_MACHINE_LOCK ?? '/tmp/yoyo-machine.lock'

export interface HeldLock {
  release(): Promise<void>
}

/** The pids holding a flock on `file` (/proc/locks), or [] when it is not locked (or does not exist). */
async function lockHolders(file: string): Promise<number[]> {
  const inode = await stat(file).then((s) => s.ino, () => undefined)
  if (inode === undefined) return []
  const locks = await readFile('/proc/locks', 'utf8').catch(() => '')
  return locks.split('\n').map((line) => line.trim().split(/\s+/)).filter((f) => f[1] === 'FLOCK' && f[5]?.split(':')[2] === String(inode)).map((f) => Number(f[4]))
}

/** This process and its ancestors. */
async function lineage(): Promise<Set<number>> {
  const pids = new Set<number>()
  for (let pid = process.pid; pid > 1 && !pids.has(pid);) {
    pids.add(pid)
    // /proc/<pid>/stat: "pid (comm) state ppid ...", comm may hold spaces and parentheses.
    const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
    pid = Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1])
  }
  return pids
}

/**
 * Waits for the machine lock (up to `timeoutSeconds`) and holds it until release(). When an ancestor
 * already holds it (`flock /tmp/yoyo-machine.lock npm run bench ...`), taking it again would wait for
 * ourselves: nothing is taken then, the caller's lock covers the run.
 */
export async function holdMachineLock(timeoutSeconds = 600): Promise<HeldLock> {
  const ours = await lineage()
  if ((await lockHolders(MACHINE_LOCK)).some((pid) => ours.has(pid))) return { release: async () => {} }
  const child = spawn('flock', ['-w', String(timeoutSeconds), MACHINE_LOCK, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`could not take ${MACHINE_LOCK} within ${timeoutSeconds} s (flock exited ${String(code)})`)))
  })
  await locked
  return {
    release: async () => {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.stdin.end()
      await exited
    },
  }
}
