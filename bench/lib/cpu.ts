// CPU time from /proc (Linux), to tell where a load run's CPU went: per request, for the whole machine
// and for single processes. /proc counts in clock ticks of 10 ms (USER_HZ 100), fine over runs of seconds.
import { readFileSync } from 'node:fs'

const TICK_MS = 10

/** CPU milliseconds process `pid` has used so far (user + system, all its threads). */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after "(comm)": state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS
}

/** CPU milliseconds the whole machine has been busy so far, summed over its cores (not idle, not iowait). */
export function machineBusyMs(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).map(Number)
  return (user! + nice! + system! + irq! + softirq! + steal!) * TICK_MS
}

/** Runs `work` and returns what it returned with the CPU microseconds per `count(result)` it cost: the
 * machine's and each named process's. */
export async function cpuPer<T>(pids: Record<string, number>, work: () => Promise<T>, count: (result: T) => number): Promise<{ result: T; cpuUs: Record<string, number> }> {
  const sample = (): Record<string, number> => ({ machine: machineBusyMs(), ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid)])) })
  const before = sample()
  const result = await work()
  const after = sample()
  const n = Math.max(1, count(result))
  return { result, cpuUs: Object.fromEntries(Object.keys(after).map((k) => [k, ((after[k]! - before[k]!) * 1000) / n])) }
}
