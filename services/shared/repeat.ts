import type { Logger } from './logger.ts'

/**
 * Runs `task` now and every `intervalMs`, one run at a time (a run still going when the next is due
 * makes that one skip). A failed run (Redis down, full or busy) is logged at debug as `failure` and
 * the next run tries again: a repair loop must outlive any outage. Returns a function that stops it.
 */
export function repeatEvery(intervalMs: number, task: () => Promise<void>, options: { logger: Logger; failure: string }): () => void {
  let running = false
  const run = async (): Promise<void> => {
    if (running) return
    running = true
    try {
      await task()
    } catch (err) {
      options.logger.debug({ err: err instanceof Error ? err.message : String(err) }, options.failure)
    } finally {
      running = false
    }
  }
  void run()
  const timer = setInterval(() => void run(), intervalMs)
  return () => clearInterval(timer)
}
