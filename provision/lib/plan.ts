// Plan and apply: `--plan FILE` writes what a run would do (the --json report of a --check, and the
// steps it covered); `--apply FILE` checks again and runs for real only when the machine would change
// exactly as planned, else names what moved.
import { readFile, writeFile } from 'node:fs/promises'
import { type JsonReport, REPORT_VERSION } from './runner.ts'

export interface Plan {
  /** What the plan was made with: the apply runs the same steps. */
  only: string[]
  skip: string[]
  report: JsonReport
}

export async function writePlan(file: string, plan: Plan): Promise<void> {
  // 0600: it holds no secret value (diffs are redacted), but it is a description of the machine.
  await writeFile(file, `${JSON.stringify(plan, null, 2)}\n`, { mode: 0o600 })
}

export async function readPlan(file: string): Promise<Plan> {
  const plan = JSON.parse(await readFile(file, 'utf8')) as Partial<Plan>
  if (plan.report?.version !== REPORT_VERSION || !Array.isArray(plan.only) || !Array.isArray(plan.skip)) {
    throw new Error(`${file} is not a plan of this provisioner (report version ${REPORT_VERSION})`)
  }
  return plan as Plan
}

const changesOf = (report: JsonReport, step: string) => report.steps.find((s) => s.name === step)?.changes ?? []
const describe = (change: { change: string }[]): string => (change.length === 0 ? 'nothing' : change.map((c) => `"${c.change}"`).join(', '))

/**
 * How the machine moved since the plan: for each step whose changes now differ from the planned ones
 * (another change, or the same one with another diff), a line saying what was planned and what is due now.
 */
export function planDifferences(planned: JsonReport, now: JsonReport): string[] {
  const steps = [...new Set([...planned.steps, ...now.steps].map((s) => s.name))]
  const moved: string[] = []
  for (const step of steps) {
    const [before, after] = [changesOf(planned, step), changesOf(now, step)]
    if (JSON.stringify(before) === JSON.stringify(after)) continue
    const sameChanges = JSON.stringify(before.map((c) => c.change)) === JSON.stringify(after.map((c) => c.change))
    moved.push(sameChanges ? `${step}: the same changes, but ${after.filter((c, i) => c.diff !== before[i]?.diff).map((c) => `"${c.change}"`).join(', ')} would now write something else` : `${step}: planned ${describe(before)}; now ${describe(after)}`)
  }
  const failed = now.steps.filter((s) => s.status === 'failed').map((s) => `${s.name} fails its check now: ${s.failure?.message ?? ''}`)
  return [...moved, ...failed]
}
