import type { Context } from './context.ts'

export interface CommandSpec<T> {
  /** What it changes, in the report ("create system user yoyo"); none for bookkeeping (a stamp) worth no line. */
  change?: string
  /** Whether the state is already there: the command runs only when it is not. Probes change nothing. */
  holds(): Promise<boolean> | boolean
  /** The command (or commands) that make it so. */
  run(): Promise<T>
  /**
   * What the command turned out to change, from what it returned, when only it can tell (Ansible's
   * changed_when): reported instead of `change` once it ran; none, and the step stays ok.
   */
  changed?(result: T): string[]
}

/**
 * The command resource, for state no file or service resource covers (a user account, a group
 * membership, a PM2 reload): probed first, run only when the probe says the state is missing, and
 * under --check only reported. Returns what the command returned, or undefined when it did not run.
 */
export async function ensureCommand<T>(ctx: Context, spec: CommandSpec<T>): Promise<T | undefined> {
  if (await spec.holds()) return undefined
  if (ctx.check || spec.changed === undefined) {
    if (spec.change !== undefined) ctx.note(spec.change)
    if (ctx.check) return undefined
  }
  const result = await spec.run()
  for (const change of spec.changed?.(result) ?? []) ctx.note(change)
  return result
}

/**
 * Whether an input an earlier step makes (the build, PM2's installation) is there. Under --check that
 * step may only owe it: this step then reports `change` (what it would do) and returns false. On a real
 * run its absence is an error: `missing` says which step to run first.
 */
export function madeEarlier(ctx: Context, present: boolean, change: string, missing: string): boolean {
  if (present) return true
  if (!ctx.check) throw new Error(missing)
  ctx.note(change)
  return false
}
