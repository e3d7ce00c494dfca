import t from 'tap'
import { memoryLogger } from '../../helpers/log-sink.ts'
import { runInline } from '../../helpers/run-entry.ts'
import { batchedSink, createLogger } from '../../../services/shared/logger.ts'

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))
const messages = (jsonLines: string) => jsonLines.trimEnd().split('\n').map((line) => JSON.parse(line).msg)

/** Runs `body` (`createLogger` in scope, logging to the real stdout) in a new node process. */
function runLogging(body: string) {
  return runInline(`import('./services/shared/logger.ts').then(({ createLogger }) => { ${body} })`)
}

t.test('when logging, then each entry is one JSON line with time, level, bindings and fields', async (t) => {
  const { logger, lines, entries } = memoryLogger('debug')
  logger.child({ req_id: 'r1' }).info({ n: 1 }, 'hello')
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
  logger.error({ err: new TypeError('bad') }, 'boom')
  t.match(entries()[0], { err: { type: 'TypeError', message: 'bad', stack: /TypeError: bad/ } })
})

t.test("when a client library's error carries what it sent, then only its type, message, stack and code are logged", async (t) => {
  const { logger, lines, entries } = memoryLogger()
  // ioredis's ReplyError keeps the command it answered: an AUTH's arguments are the user and password.
  const err = Object.assign(new Error('WRONGPASS invalid username-password pair'), { code: 'WRONGPASS', command: { name: 'auth', args: ['auth', 's3cret-password'] } })
  logger.error({ err }, 'redis login failed')
  t.notMatch(lines[0], /s3cret-password/)
  t.same(Object.keys(entries()[0]!.err as object).sort(), ['code', 'message', 'stack', 'type'])
  logger.warn({ err: 'plain text' }, 'not an Error')
  t.equal(entries()[1]!.err, 'plain text', 'a value that is not an Error is logged as it is')
})

t.test('when lines are logged in one turn of the event loop, then they are written on the next as one chunk, in order', async (t) => {
  const chunks: string[] = []
  const { sink, pending } = batchedSink((chunk) => chunks.push(chunk))
  const logger = createLogger({ level: 'info', sink })
  logger.info('a')
  logger.child({ req_id: 'r' }).info('b')
  logger.warn('c')
  t.same(chunks, [], 'nothing written in the same turn')
  t.equal(pending().split('\n').length, 4, 'three lines held')
  await nextTurn()
  t.equal(chunks.length, 1)
  t.same(messages(chunks[0]!), ['a', 'b', 'c'])
  t.equal(pending(), '')
  logger.info('d')
  await nextTurn()
  t.equal(chunks.length, 2, 'a later turn gets its own chunk')
  t.match(chunks[1], /"msg":"d"/)
})

t.test('when a process logs and calls process.exit in the same turn, then its lines still reach stdout', async (t) => {
  const { code, stdout } = await runLogging(`const log = createLogger({ level: 'info' }); log.info('one'); log.error('two'); process.exit(3)`)
  t.equal(code, 3)
  t.same(messages(stdout), ['one', 'two'])
})

t.test('when a process logs and then dies of an uncaught exception, then its lines still reach stdout', async (t) => {
  const { code, stdout } = await runLogging(`createLogger({ level: 'info' }).error({ reason: 'x' }, 'fatal'); throw new Error('boom')`)
  t.equal(code, 1)
  t.match(JSON.parse(stdout), { level: 'error', msg: 'fatal', reason: 'x' })
})

t.test('when a process logs and goes on, then its lines reach stdout once each', async (t) => {
  const { code, stdout } = await runLogging(`const log = createLogger({ level: 'info' }); log.info('one'); setTimeout(() => log.info('two'), 10)`)
  t.equal(code, 0)
  t.same(messages(stdout), ['one', 'two'])
})
