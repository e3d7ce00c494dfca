import { parseArgs } from 'node:util'

export interface Options {
  check: boolean
  diff: boolean
  json: boolean
  /** --plan FILE: a --check whose report is written to FILE, for --apply. */
  plan?: string
  /** --apply FILE: do what the plan says, or nothing if the machine moved since. */
  apply?: string
  only: string[]
  skip: string[]
  quiet: boolean
  verbose: boolean
  help: boolean
}

export class UsageError extends Error {
  override name = 'UsageError'
}

export const usage = `Usage: sudo ./provision/bootstrap.sh [options]

Provisions this Ubuntu/Debian machine (or the Vagrant VM) to run yoyo-platform: Redis, nginx, PM2 and
the services. Every step checks before it changes anything: a second run changes nothing.

Options:
  --check          report what would change, change nothing (exit 2 when something would, 0 when not)
  --diff           show each file change as a unified diff (secret values redacted)
  --json           print one JSON document instead of the report (schema: provision/README.md)
  --plan FILE      what a run would do (a --check), written to FILE for review
  --apply FILE     do exactly what FILE planned; refuse (exit 3), naming what moved, if the machine
                   is no longer as it was when the plan was made
  --only a,b       run only these steps
  --skip a,b       run every step but these
  --quiet          print only failures and the recap
  --verbose        print details and every command run
  -h, --help       this help

Exit codes: 0 done (or no drift under --check), 1 a step failed, 2 drift found under --check,
3 a plan is stale (--apply), 64 bad usage.`

const list = (value: string | undefined) => (value ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '')

/** The command line, checked against the known step names. Throws UsageError. */
export function parseOptions(argv: string[], stepNames: string[]): Options {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        check: { type: 'boolean', default: false },
        diff: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        plan: { type: 'string' },
        apply: { type: 'string' },
        only: { type: 'string' },
        skip: { type: 'string' },
        quiet: { type: 'boolean', short: 'q', default: false },
        verbose: { type: 'boolean', short: 'v', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    })
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err))
  }
  const { values } = parsed
  const options: Options = {
    check: values.check ?? false,
    diff: values.diff ?? false,
    json: values.json ?? false,
    only: list(values.only),
    skip: list(values.skip),
    quiet: values.quiet ?? false,
    verbose: values.verbose ?? false,
    help: values.help ?? false,
    ...(values.plan === undefined ? {} : { plan: values.plan }),
    ...(values.apply === undefined ? {} : { apply: values.apply }),
  }
  if (options.plan !== undefined) options.check = true
  if (options.apply !== undefined && (values.check === true || options.plan !== undefined)) throw new UsageError('--apply runs for real: not with --check or --plan')
  if (options.apply !== undefined && (options.only.length > 0 || options.skip.length > 0)) throw new UsageError('--apply takes the steps the plan was made with: not --only or --skip')
  const unknown = [...options.only, ...options.skip].filter((name) => !stepNames.includes(name))
  if (unknown.length > 0) throw new UsageError(`unknown step ${unknown.join(', ')}; steps are: ${stepNames.join(', ')}`)
  if (options.quiet && options.verbose) throw new UsageError('--quiet and --verbose exclude each other')
  if (values.only !== undefined && options.only.length === 0) throw new UsageError('--only needs step names')
  return options
}

/** The steps to run, in their order. */
export function selectSteps<T extends { name: string }>(steps: T[], options: Pick<Options, 'only' | 'skip'>): T[] {
  return steps.filter((step) => (options.only.length === 0 || options.only.includes(step.name)) && !options.skip.includes(step.name))
}
