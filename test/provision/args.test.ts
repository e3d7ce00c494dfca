import t from 'tap'
import { parseOptions, selectSteps } from '../../provision/lib/args.ts'

const names = ['ensureA', 'ensureB', 'ensureC']

t.test('when no option is given, then every step runs, changing things', async (t) => {
  t.same(parseOptions([], names), { check: false, diff: false, json: false, only: [], skip: [], quiet: false, verbose: false, help: false })
})

t.test('when --check, --only, --skip, --quiet are given, then they are read (both --x y and --x=y)', async (t) => {
  const options = parseOptions(['--check', '--only', 'ensureA,ensureC', '--skip=ensureC', '--quiet'], names)
  t.same(options, { check: true, diff: false, json: false, only: ['ensureA', 'ensureC'], skip: ['ensureC'], quiet: true, verbose: false, help: false })
  t.match(parseOptions(['--check', '--diff', '--json'], names), { check: true, diff: true, json: true })
  t.match(parseOptions(['--plan', '/tmp/p.json', '--only', 'ensureA'], names), { plan: '/tmp/p.json', check: true, only: ['ensureA'] }, '--plan is a --check')
  t.match(parseOptions(['--apply', '/tmp/p.json'], names), { apply: '/tmp/p.json', check: false })
  t.throws(() => parseOptions(['--apply', 'p', '--check'], names), { name: 'UsageError', message: /--apply runs for real/ })
  t.throws(() => parseOptions(['--apply', 'p', '--only', 'ensureA'], names), { name: 'UsageError', message: /the steps the plan was made with/ })
  t.same(selectSteps(names.map((name) => ({ name })), options).map((s) => s.name), ['ensureA'])
  t.same(selectSteps(names.map((name) => ({ name })), parseOptions(['--skip', 'ensureB'], names)).map((s) => s.name), ['ensureA', 'ensureC'])
})

t.test('when the usage is wrong, then a UsageError says why', async (t) => {
  t.throws(() => parseOptions(['--only', 'ensureX'], names), { name: 'UsageError', message: /unknown step ensureX; steps are: ensureA, ensureB, ensureC/ })
  t.throws(() => parseOptions(['--frobnicate'], names), { name: 'UsageError' })
  t.throws(() => parseOptions(['extra'], names), { name: 'UsageError' })
  t.throws(() => parseOptions(['--quiet', '--verbose'], names), { name: 'UsageError', message: /exclude each other/ })
  t.throws(() => parseOptions(['--only', ','], names), { name: 'UsageError', message: /needs step names/ })
})
