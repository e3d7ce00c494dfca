import { createLogger, type Logger } from '../../services/shared/logger.ts'

/** A logger that keeps its JSON lines in memory, so tests can read them (and check no secret is in them). */
export function memoryLogger(level: 'debug' | 'info' = 'debug'): { logger: Logger; lines: string[]; entries: () => Record<string, unknown>[] } {
  const lines: string[] = []
  const logger = createLogger({ level, sink: (line) => lines.push(line) })
  return { logger, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) }
}
