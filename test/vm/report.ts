// What the VM test tells: each phase's wall time (the figure CI's 90-minute budget is judged on) and each
// check's outcome, closing with the 'N passed, N failed' line CI reads.
import { ProcessOutput } from 'zx'

type Phase = { name: string, note: string, seconds: number, failed: boolean }

export class Report {
  readonly phases: Phase[] = []
  passed = 0
  failed = 0
  private readonly started = Date.now()

  /** Runs one phase, timing it; `note` may be filled in by the phase (e.g. 'cache hit'). */
  async phase<T>(name: string, body: (note: (text: string) => void) => Promise<T>): Promise<T> {
    const phase: Phase = { name, note: '', seconds: 0, failed: false }
    this.phases.push(phase)
    const start = Date.now()
    log(`── ${name}`)
    try {
      return await body(text => { phase.note = text })
    } catch (error) {
      phase.failed = true
      throw error
    } finally {
      phase.seconds = (Date.now() - start) / 1000
      log(`── ${name}: ${phase.seconds.toFixed(1)} s${phase.failed ? ' (failed)' : ''}${phase.note ? ` (${phase.note})` : ''}`)
    }
  }

  /** One named expectation; the first failure ends the run (later checks depend on earlier ones). */
  async check<T>(name: string, body: () => Promise<T>): Promise<T> {
    try {
      const result = await body()
      this.passed++
      log(`ok ${this.passed + this.failed} - ${name}`)
      return result
    } catch (error) {
      this.failed++
      log(`not ok ${this.passed + this.failed} - ${name}: ${describe(error)}`)
      throw error
    }
  }

  summary(): string {
    const width = Math.max(...this.phases.map(p => p.name.length), 5)
    const rows = this.phases.map(p =>
      `  ${p.name.padEnd(width)}  ${p.seconds.toFixed(1).padStart(7)} s${p.failed ? '  FAILED' : ''}${p.note ? `  ${p.note}` : ''}`)
    const total = (Date.now() - this.started) / 1000
    return [
      'VM test timings (wall clock):',
      ...rows,
      `  ${'total'.padEnd(width)}  ${total.toFixed(1).padStart(7)} s`,
      '',
      `vm: ${this.passed} passed, ${this.failed} failed`,
    ].join('\n')
  }
}

export function log(line: string): void {
  process.stdout.write(`[vm ${new Date().toISOString().slice(11, 19)}] ${line}\n`)
}

/** An error as one readable message; a failed command shows its exit code and the end of its output. */
export function describe(error: unknown): string {
  if (error instanceof ProcessOutput) {
    const tail = (text: string) => text.trim().split('\n').slice(-15).join('\n')
    const output = [tail(error.stderr), tail(error.stdout)].filter(Boolean).join('\n')
    return `command exited ${error.exitCode ?? error.signal}${output ? `:\n${output}` : ' (no output)'}`
  }
  return error instanceof Error ? error.message : String(error)
}
