import { writeSync } from 'node:fs'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
type Fields = Record<string, unknown>

export interface Logger {
  debug(msg: string, fields?: Fields): void
  info(msg: string, fields?: Fields): void
  warn(msg: string, fields?: Fields): void
  error(msg: string, fields?: Fields): void
  child(bindings: Fields): Logger
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 }

export type LogSink = (line: string) => void

/**
 * A sink that hands `write` the lines logged in one turn of the event loop as one chunk, in order, and
 * gives back what it has not handed over yet (`pending`). Under load many requests finish in one turn;
 * a write per line was a syscall each here and a chunk each for PM2's daemon to copy to its log file
 * (the daemon's CPU per request before and after: docs/performance.md, change 9).
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
const stdout = stdoutBatch.sink
// A process that exits in the turn it logged (process.exit after a fatal error, an uncaught exception)
// never reaches the next turn: its last lines are written synchronously on the way out. Only a SIGKILL
// loses them, a turn's worth at most.
process.on('exit', () => {
  const rest = stdoutBatch.pending()
  if (rest !== '') writeSync(1, rest)
})

function serialiseError(err: unknown): unknown {
  if (!(err instanceof Error)) return err
  return { name: err.name, message: err.message, stack: err.stack }
}

/** JSON lines on stdout (Twelve-Factor: the process manager routes and rotates them). */
export function createLogger(options: { level: LogLevel; bindings?: Fields; sink?: LogSink }): Logger {
  const { level, bindings = {}, sink = stdout } = options
  const threshold = rank[level]
  const write = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: Fields): void => {
    if (rank[lvl] < threshold) return
    const entry: Fields = { time: new Date().toISOString(), level: lvl, ...bindings, msg, ...fields }
    if (entry.err !== undefined) entry.err = serialiseError(entry.err)
    sink(`${JSON.stringify(entry)}\n`)
  }
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (more) => createLogger({ level, bindings: { ...bindings, ...more }, sink }),
  }
}
