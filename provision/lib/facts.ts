/**
 * Facts are what the provisioner reads of the machine before it decides (PM2's process list, what rsync
 * would copy). Slow ones are gathered at the start of a run, all at once, while the first steps run
 * (Step.gatherEarly); a step then takes the early answer only if no step before it can have changed
 * the fact (as a rule: no step before it changed anything; PM2's list: no step before it touches PM2's
 * processes), and gathers afresh otherwise: an early fact is never older than the machine it describes.
 */
export interface Facts {
  /** Starts gathering `name` now (once); a failure shows only when a step asks for it. */
  early(name: string, gather: () => Promise<unknown>): void
  /** The fact: the early answer when `stillValid`, else gathered now. */
  get<T>(name: string, gather: () => Promise<T>, stillValid: boolean): Promise<T>
}

export function factCache(): Facts {
  const gathered = new Map<string, Promise<unknown>>()
  return {
    early(name, gather) {
      if (gathered.has(name)) return
      const answer = gather()
      // Awaited (and so reported) by the step that asks, if one does.
      answer.catch(() => {})
      gathered.set(name, answer)
    },
    async get<T>(name: string, gather: () => Promise<T>, stillValid: boolean): Promise<T> {
      const early = gathered.get(name)
      gathered.delete(name)
      if (early !== undefined && stillValid) return early as Promise<T>
      return gather()
    },
  }
}
