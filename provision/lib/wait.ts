import { setTimeout as sleep } from 'node:timers/promises'

/** What a probe found: done (with what it found), or not yet (with what it saw, for the timeout's message). */
export type Probe<T> = { done: true; value: T } | { done: false; last: string }

export const done = <T>(value: T): Probe<T> => ({ done: true, value })
export const notYet = (last: string): Probe<never> => ({ done: false, last })

export interface WaitOptions {
  /** Give up after this long. */
  timeoutMs: number
  /** Pause between probes. */
  intervalMs: number
  /** Clock and pause, for tests. */
  now?: () => number
  sleep?: (ms: number) => Promise<unknown>
}

/**
 * The ONE wait of the provisioner: runs `probe` until it says done or `timeoutMs` has passed, then
 * fails naming `what` and the last thing the probe saw. A probe that throws stops the wait at once
 * (a wrong password is not worth waiting on). Network commands that may fail now and work later use
 * zx's `retry` instead (lib/shell.ts): this is for a state to be reached.
 */
export async function waitUntil<T>(what: string, probe: () => Promise<Probe<T>>, options: WaitOptions): Promise<T> {
  const now = options.now ?? Date.now
  const pause = options.sleep ?? sleep
  const deadline = now() + options.timeoutMs
  for (;;) {
    const result = await probe()
    if (result.done) return result.value
    if (now() >= deadline) throw new Error(`${what} within ${formatSeconds(options.timeoutMs)} (last: ${result.last || 'nothing'})`)
    await pause(options.intervalMs)
  }
}

const formatSeconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`
