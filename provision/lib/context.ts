import type { Facts } from './facts.ts'
import type { Paths } from './paths.ts'
import type { PendingActions } from './pending.ts'
import type { Secrets } from './env-file.ts'
import type { Settings } from './settings.ts'

/** What the machine is like, found out once at start. */
export interface Runtime {
  /** The Node.js running the provisioner: the platform runs on the same one (>= 24 in the VM). */
  node: string
  /** systemd is PID 1: services are enabled and survive a reboot. Otherwise (containers, CI) they are started directly. */
  systemd: boolean
  /** Human users who get PM2 access (added to the app group): SUDO_USER and `vagrant` when they exist. */
  loginUsers: string[]
}

export interface Context {
  /** --check: find out what would change, change nothing. */
  readonly check: boolean
  readonly verbose: boolean
  readonly paths: Paths
  /** The system user the platform runs as (yoyo); tests use the current user. */
  readonly appUser: string
  readonly settings: Settings
  readonly runtime: Runtime
  /** Restarts and reloads owed to a later step, kept on disk so an interrupted run still does them. */
  readonly pending: PendingActions
  /** What the run has read of the machine; slow facts are gathered early (lib/facts.ts). */
  readonly facts: Facts
  /** Values steps hand to later steps in the same run. */
  readonly shared: {
    secrets?: Secrets
    /** This run kept the release it replaces (lib/release.ts): a failed deploy can go back to it. */
    previousRelease?: boolean
    /** The apps this run (re)started or reloaded under PM2. */
    reloaded?: string[]
  }
  /**
   * Records a change this step made, or under --check would make ("write /etc/x", "restart nginx"),
   * saying what: a file's change comes with its unified diff (secrets redacted), others say before → after.
   */
  note(change: string, diff?: string): void
  /** A detail shown with --verbose only. */
  detail(message: string): void
  /**
   * Earlier steps of this run ran and none changed anything (the machine was already as wanted); false
   * when this step runs first (--only) or something changed before it.
   */
  readonly nothingChangedEarlier: boolean
}

export interface Step {
  /** Named for the state it ensures (ensureRedisRunning); --only and --skip take these names. */
  name: string
  /**
   * A verification (the smoke test), not a state: it changes nothing the provisioner manages, so under
   * --check the runner does not run it (it would write a transaction) and reports it ok.
   */
  verifies?: boolean
  /** Starts gathering the slow facts the step will read (ctx.facts.early), before the first step runs. */
  gatherEarly?(ctx: RunContext): void
  run(ctx: Context): Promise<void>
}

/** The context of the whole run, before a step gets its own report functions. */
export type RunContext = Omit<Context, 'note' | 'detail' | 'nothingChangedEarlier'>
