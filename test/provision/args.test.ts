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
