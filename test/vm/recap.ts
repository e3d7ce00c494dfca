// Reads the provisioner's closing recap: how many changes the run made. A second run on a provisioned
// machine must report none.

/**
 * The change count from the recap in a provisioner run's output. Accepts the forms a recap line takes
 * ("recap: 14 steps, 0 changed", "changed=0", "3 changes", "nothing changed", "no changes");
 * throws when the output has no recap, so a provisioner that stops printing one fails the test loudly.
 */
export function changesIn(output: string): number {
  const lines = output.split('\n').map(line => line.replace(/\x1b\[[0-9;]*m/g, '').trim()) // eslint-disable-line no-control-regex
  const start = lines.findLastIndex(line => /\brecap\b/i.test(line))
  if (start === -1) throw new Error('the provisioner printed no recap')
  // The recap is its line and the few after it (a multi-line recap lists the changes below a heading).
  for (const line of lines.slice(start, start + 5)) {
    if (/\b(nothing changed|no changes?)\b/i.test(line)) return 0
    const count = /\bchanged?[=:]\s*(\d+)/i.exec(line) ?? /(\d+)\s+(?:changed|changes?)\b/i.exec(line)
    if (count) return Number(count[1])
  }
  throw new Error(`cannot read a change count from the recap: ${lines.slice(start, start + 5).join(' / ')}`)
}

/** The provisioner's slowest steps from its per-step lines ("changed  ensureAppBuilt  312.40s"). */
export function slowestSteps(output: string, count: number): string {
  const steps = [...output.matchAll(/^\s*(?:ok|changed|failed|drift|would change)\s+(\w+)\s+([\d.]+)s\s*$/gm)]
    .map(([, name, seconds]) => ({ name: name as string, seconds: Number(seconds) }))
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, count)
  return steps.map(step => `${step.name} ${step.seconds.toFixed(0)} s`).join(', ')
}
