import t from 'tap'
import { memoryLogger } from '../../helpers/log-sink.ts'
import { createLogger } from '../../../services/shared/logger.ts'

t.test('when logging, then each entry is one JSON line with time, level, bindings and fields', async (t) => {
  const { logger, lines, entries } = memoryLogger('debug')
  logger.child({ req_id: 'r1' }).info('hello', { n: 1 })
  t.equal(lines.length, 1)
  t.ok(lines[0]!.endsWith('\n'))
  t.match(entries()[0], { level: 'info', req_id: 'r1', msg: 'hello', n: 1, time: /^\d{4}-/ })
})

t.test('when a level is below the threshold, then it is not written', async (t) => {
  const lines: string[] = []
  const logger = createLogger({ level: 'warn', sink: (line) => lines.push(line) })
  logger.debug('d')
  logger.info('i')
  logger.warn('w')
  logger.error('e')
  t.same(lines.map((line) => JSON.parse(line).msg), ['w', 'e'])
  const silent = createLogger({ level: 'silent', sink: (line) => lines.push(line) })
  silent.error('nothing')
  t.equal(lines.length, 2)
})

t.test('when an error is logged, then its name, message and stack are kept', async (t) => {
  const { logger, entries } = memoryLogger()
  logger.error('boom', { err: new TypeError('bad') })
  t.match(entries()[0], { err: { name: 'TypeError', message: 'bad', stack: /TypeError: bad/ } })
})
