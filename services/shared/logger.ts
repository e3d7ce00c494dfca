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
const stdout: LogSink = (line) => {
  process.stdout.write(line)
}

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
