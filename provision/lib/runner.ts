import type { Context, RunContext, Step } from './context.ts'

export type Status = 'ok' | 'changed' | 'failed' | 'not run'

export interface Failure {
  message: string
  /** The command that failed, when a command did. */
  command?: string
  /** Its stderr (the last lines). */
  stderr?: string
}

export interface StepResult {
  name: string
  status: Status
  ms: number
  /** What the step changed (or would change under --check). */
  changes: string[]
  /** The unified diffs of the file changes among them (secrets redacted). */
  diffs: { change: string; diff: string }[]
  failure?: Failure
}

export interface RunnerOptions {
  check: boolean
  quiet: boolean
  verbose: boolean
  /** Print each file change's diff under it (--diff). */
  diff?: boolean
  /** Where report lines go (stdout in main.ts, an array in tests). */
  write(line: string): void
  /** The command that ran last (the shell layer's log hook knows it), to name it when a step fails. */
  lastCommand?(): string | undefined
  now?(): number
  /** Announce a step that has run this long without finishing (progress on long steps). */
  slowAfterMs?: number
}

type BaseContext = RunContext

const STDERR_LINES = 20

/** What to say about an error: zx's ProcessOutput carries stderr and an exit code; anything else its message. */
export function describeFailure(err: unknown, command: string | undefined): Failure {
  if (typeof err === 'object' && err !== null && 'stderr' in err && 'exitCode' in err && typeof err.stderr === 'string') {
    const code = err.exitCode
    const stderr = err.stderr.trimEnd().split('\n').slice(-STDERR_LINES).join('\n')
    const stdout = 'stdout' in err && typeof err.stdout === 'string' ? err.stdout.trimEnd() : ''
    return {
      message: `command failed with exit code ${String(code)}`,
      ...(command === undefined ? {} : { command }),
      // Some tools (nginx -t, npm) say why on stdout: show that when stderr is empty.
      stderr: stderr !== '' ? stderr : stdout.split('\n').slice(-STDERR_LINES).join('\n'),
    }
  }
  return { message: err instanceof Error ? err.message : String(err) }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`

export function formatResult(result: StepResult, check: boolean, quiet: boolean, showDiffs = false): string[] {
  const word = result.status === 'changed' && check ? 'drift' : result.status
  const lines = [`${word.padEnd(8)} ${result.name.padEnd(24)} ${seconds(result.ms)}`]
  if (!quiet || result.status === 'failed') {
    for (const change of result.changes) {
      lines.push(`         - ${check ? 'would ' : ''}${change}`)
      const diff = showDiffs ? result.diffs.find((d) => d.change === change)?.diff : undefined
      if (diff !== undefined) lines.push(...diff.trimEnd().split('\n').map((line) => `           ${line}`))
    }
  }
  if (result.failure !== undefined) {
    const [first, ...rest] = result.failure.message.split('\n')
    lines.push(`         error: ${first}`, ...rest.map((line) => `         | ${line}`))
    if (result.failure.command !== undefined) lines.push(`         command: ${result.failure.command}`)
    if (result.failure.stderr) lines.push(...result.failure.stderr.split('\n').map((line) => `         | ${line}`))
  }
  return lines
}

export function formatRecap(results: StepResult[], check: boolean, totalMs: number): string {
  const count = (status: Status) => results.filter((result) => result.status === status).length
  const changed = check ? `${count('changed')} would change` : `${count('changed')} changed`
  return `recap: ${count('ok')} ok, ${changed}, ${count('failed')} failed, ${count('not run')} not run in ${seconds(totalMs)}`
}

/** 1 when a step failed; under --check 2 when something would change; else 0. */
export function exitCode(results: StepResult[], check: boolean): number {
  if (results.some((result) => result.status === 'failed')) return 1
  if (check && results.some((result) => result.status === 'changed')) return 2
  return 0
}

/**
 * Runs the steps in order, each reporting ok (nothing to do), changed (it changed something) or failed,
 * with its duration. The first failure stops the run: later steps build on earlier ones.
 */
export async function runSteps(steps: Step[], base: BaseContext, options: RunnerOptions): Promise<StepResult[]> {
  const now = options.now ?? (() => performance.now())
  const results: StepResult[] = []
  // Independent probes run at once, while the first steps run: a run that changes nothing is mostly probes.
  for (const step of steps) step.gatherEarly?.(base)
  for (const [index, step] of steps.entries()) {
    const changes: string[] = []
    const diffs: StepResult['diffs'] = []
    const ctx: Context = {
      ...base,
      note: (change, diff) => {
        changes.push(change)
        if (diff !== undefined) diffs.push({ change, diff })
      },
      detail: (message) => {
        if (options.verbose) options.write(`         · ${message}`)
      },
      nothingChangedEarlier: results.length > 0 && results.every((result) => result.status === 'ok'),
    }
    if (options.verbose) options.write(`…        ${step.name}`)
    const slow = options.verbose || options.quiet
      ? undefined
      : setTimeout(() => options.write(`…        ${step.name} (running)`), options.slowAfterMs ?? 1000)
    const started = now()
    let failure: Failure | undefined
    try {
      if (step.verifies === true && base.check) ctx.detail('not run under --check: a verification, it changes nothing')
      else await step.run(ctx)
    } catch (err) {
      failure = describeFailure(err, options.lastCommand?.())
    } finally {
      clearTimeout(slow)
    }
    const result: StepResult = {
      name: step.name,
      status: failure !== undefined ? 'failed' : changes.length > 0 ? 'changed' : 'ok',
      ms: now() - started,
      changes,
      diffs,
      ...(failure === undefined ? {} : { failure }),
    }
    results.push(result)
    for (const line of formatResult(result, base.check, options.quiet, options.diff)) {
      if (!options.quiet || result.status === 'failed') options.write(line)
    }
    if (failure !== undefined) {
      for (const rest of steps.slice(index + 1)) results.push({ name: rest.name, status: 'not run', ms: 0, changes: [], diffs: [] })
      break
    }
  }
  return results
}

/** The version of the --json document; raised when a field changes meaning or goes away. */
export const REPORT_VERSION = 1

export interface JsonReport {
  version: typeof REPORT_VERSION
  check: boolean
  /** What the exit code is: 0 done (or no drift under --check), 1 a step failed, 2 drift under --check. */
  exitCode: number
  ms: number
  recap: Record<'ok' | 'changed' | 'failed' | 'notRun', number>
  steps: {
    name: string
    status: Status
    ms: number
    /** Each change, with the file's unified diff (secrets redacted) when it is a file's content. */
    changes: { change: string; diff?: string }[]
    failure?: Failure
  }[]
}

/** The whole run as one JSON document (--json): for CI and scripts. */
export function jsonReport(results: StepResult[], check: boolean, totalMs: number): JsonReport {
  const count = (status: Status) => results.filter((result) => result.status === status).length
  return {
    version: REPORT_VERSION,
    check,
    exitCode: exitCode(results, check),
    ms: Math.round(totalMs),
    recap: { ok: count('ok'), changed: count('changed'), failed: count('failed'), notRun: count('not run') },
    steps: results.map((result) => ({
      name: result.name,
      status: result.status,
      ms: Math.round(result.ms),
      changes: result.changes.map((change) => {
        const diff = result.diffs.find((d) => d.change === change)?.diff
        return diff === undefined ? { change } : { change, diff }
      }),
      ...(result.failure === undefined ? {} : { failure: result.failure }),
    })),
  }
}
