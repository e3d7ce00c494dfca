import { writeSync } from 'node:fs'
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
type Fields = Record<string, unknown>

/** pino's logger: `log.info({ fields }, 'message')`, `log.child({ bindings })`. */
export type Logger = PinoLogger

export type LogSink = (line: string) => void

/**
 * A sink that hands `write` the lines logged in one turn of the event loop as one chunk, in order, and
 * gives back what it has not handed over yet (`pending`). Under load many requests finish in one turn;
 * a write per line was a syscall each here and a chunk each for PM2's daemon to copy to its log file
 * (the daemon's CPU per request before and after: docs/performance.md, change 9). pino writes each
 * line to this sink as to a stream.
 */
export function batchedSink(write: (chunk: string) => void): { sink: LogSink; pending: () => string } {
  let pending = ''
  const flush = (): void => {
    const chunk = pending
    pending = ''
    write(chunk)
  }
  return {
    sink: (line) => {
      if (pending === '') setImmediate(flush)
      pending += line
    },
    pending: () => pending,
  }
}

const stdoutBatch = batchedSink((chunk) => process.stdout.write(chunk))
// A process that exits in the turn it logged (process.exit after a fatal error, an uncaught exception)
// never reaches the next turn: its last lines are written synchronously on the way out. Only a SIGKILL
// loses them, a turn's worth at most.
process.on('exit', () => {
  const rest = stdoutBatch.pending()
  if (rest !== '') writeSync(1, rest)
})

/**
 * An error as its type, message, stack and code, and nothing else: pino's own serialiser copies every
 * property, and a client library's error may carry what it sent (ioredis's `command.args` of an AUTH
 * holds the password).
 */
function serialiseError(err: unknown): unknown {
  if (!(err instanceof Error)) return err
  const { code } = err as { code?: unknown }
  return { type: err.name, message: err.message, stack: err.stack, ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}) }
}

/** JSON lines on stdout (Twelve-Factor: the process manager routes and rotates them): level, time, bindings, fields, msg. */
export function createLogger(options: { level: LogLevel; bindings?: Fields; sink?: LogSink }): Logger {
  const { level, bindings = {}, sink = stdoutBatch.sink } = options
  const destination: DestinationStream = { write: sink }
  return pino(
    {
      level,
      base: bindings,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serialiseError },
    },
    destination,
  )
}
