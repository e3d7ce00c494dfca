import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { planDifferences, readPlan, writePlan } from '../../provision/lib/plan.ts'
import { type JsonReport, REPORT_VERSION } from '../../provision/lib/runner.ts'

const report = (steps: JsonReport['steps']): JsonReport => ({
  version: REPORT_VERSION,
  check: true,
  exitCode: 2,
  ms: 10,
  recap: { ok: 0, changed: 0, failed: 0, notRun: 0 },
  steps,
})
const planned = report([
  { name: 'ensureA', status: 'ok', ms: 1, changes: [] },
  { name: 'ensureNginx', status: 'changed', ms: 2, changes: [{ change: 'write /etc/site', diff: '-# edit\n' }, { change: 'reload nginx' }] },
])

t.test('when the machine would change exactly as planned, then nothing moved (timings aside)', async (t) => {
  const now = structuredClone(planned)
  now.steps[1]!.ms = 99
  t.same(planDifferences(planned, now), [])
})

t.test('when a step would now do something else, then each difference is named', async (t) => {
  const now = report([
    { name: 'ensureA', status: 'changed', ms: 1, changes: [{ change: 'restart redis-server' }] },
    { name: 'ensureNginx', status: 'changed', ms: 2, changes: [{ change: 'write /etc/site', diff: '-# edit\n-# another\n' }, { change: 'reload nginx' }] },
  ])
  t.same(planDifferences(planned, now), [
    'ensureA: planned nothing; now "restart redis-server"',
    'ensureNginx: the same changes, but "write /etc/site" would now write something else',
  ])
})

t.test('when a step fails its check now, then that is named too', async (t) => {
  const now = structuredClone(planned)
  now.steps[0] = { name: 'ensureA', status: 'failed', ms: 1, changes: [], failure: { message: 'no such user' } }
  t.same(planDifferences(planned, now), ['ensureA fails its check now: no such user'])
})

t.test('when a plan is written, then it is 0600 and reads back; a file that is no plan is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-plan-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'plan.json')
  await writePlan(file, { only: ['ensureNginx'], skip: [], report: planned })
  t.equal((await stat(file)).mode & 0o777, 0o600)
  t.same(await readPlan(file), { only: ['ensureNginx'], skip: [], report: planned })
  await writeFile(join(dir, 'other.json'), '{"version": 1}')
  await t.rejects(readPlan(join(dir, 'other.json')), /is not a plan of this provisioner/)
})
