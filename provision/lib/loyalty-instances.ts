/**
 * How many Loyalty Worker processes run is shared between the setting and the user:
 * - LOYALTY_INSTANCES is applied when it CHANGES (the provisioner keeps the last applied value in a
 *   stamp), and at the first start (the ecosystem starts that many);
 * - in between, `pm2 scale loyalty N` is the user's: not drift, never undone.
 * PM2 cannot do this itself: `startOrReload` reloads a running app without rescaling it.
 */
export interface LoyaltyInstancesState {
  /** LOYALTY_INSTANCES now. */
  wanted: number
  /** The value last applied (the stamp); undefined before the first. */
  applied: number | undefined
  /** Loyalty processes PM2 runs (or will right after a start: the ecosystem's count). */
  running: number
}

export interface LoyaltyInstancesPlan {
  /** The change to report (drift under --check); undefined when there is none to speak of. */
  change?: string
  /** `pm2 scale loyalty <n>`: only when the count differs (PM2 refuses a scale to the same count). */
  scaleTo?: number
  /** `pm2 save`, so a PM2 restart or reboot brings back the applied count. */
  save: boolean
  /** Remember `wanted` as applied. */
  stamp: boolean
}

export function planLoyaltyInstances({ wanted, applied, running }: LoyaltyInstancesState): LoyaltyInstancesPlan {
  // Applied before: whatever runs now is the user's (pm2 scale), or the applied count itself.
  if (applied === wanted) return { save: false, stamp: false }
  const setting = applied === undefined ? `LOYALTY_INSTANCES ${wanted}` : `LOYALTY_INSTANCES ${applied} → ${wanted}`
  if (running !== wanted) {
    return { change: `pm2 scale loyalty ${wanted} (${setting}; ${running} running)`, scaleTo: wanted, save: true, stamp: true }
  }
  // Never applied, and that many run (the first start just started them): only remember it.
  if (applied === undefined) return { save: false, stamp: true }
  // A new value that already runs (scaled by hand to it): make it the saved one too.
  return { change: `pm2 save (${setting}; ${running} already running)`, save: true, stamp: true }
}

/** The stamp's text as a count; anything else counts as never applied. */
export function parseAppliedInstances(stamp: string | undefined): number | undefined {
  if (stamp === undefined || !/^\d+$/.test(stamp)) return undefined
  const value = Number(stamp)
  return value > 0 ? value : undefined
}
