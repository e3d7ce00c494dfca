import type { Logger } from './logger.ts'

export interface Service {
  stop(): Promise<void>
}

/**
 * The one exit path of every service entry: start it, stop it gracefully on SIGINT/SIGTERM (or on
 * PM2's 'shutdown' message), and give up after `timeoutMs` so a stuck dependency cannot block a deploy.
 * A bad configuration or a failed start prints the error and exits 1 at once.
 */
export async function run(
  name: string,
  start: () => Promise<Service>,
  options: { logger: Logger; timeoutMs: number },
): Promise<void> {
  const { logger, timeoutMs } = options
  let service: Service
  try {
    service = await start()
  } catch (err) {
    logger.error({ err }, `${name} failed to start`)
    process.exit(1)
  }
  // Under PM2 with wait_ready, a reload moves traffic only once the new instance says it is ready.
  process.send?.('ready')
  let stopping = false
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, `${name} stopping`)
    const timer = setTimeout(() => {
      logger.error(`${name} did not stop within ${timeoutMs} ms, exiting`)
      process.exit(1)
    }, timeoutMs)
    timer.unref()
    try {
      await service.stop()
      logger.info(`${name} stopped`)
      process.exit(0)
    } catch (err) {
      logger.error({ err }, `${name} failed to stop cleanly`)
      process.exit(1)
    }
  }
  process.once('SIGINT', () => void stop('SIGINT'))
  process.once('SIGTERM', () => void stop('SIGTERM'))
  process.on('message', (message) => {
    if (message === 'shutdown') void stop('shutdown')
  })
}

/** Reads config or exits 1 with a message naming the bad variables (fail fast, before anything starts). */
export function configOrExit<T>(load: () => T): T {
  try {
    return load()
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  }
}
