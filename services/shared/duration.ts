// Durations in settings as people write them: 90s, 30m, 24h, 7d.
const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** Milliseconds of a duration as TRANSACTION_RETENTION's pattern in platform.json allows it. */
export function parseDuration(text: string): number {
  const match = /^([1-9][0-9]{0,5})([smhd])$/.exec(text)
  if (match === null) throw new Error(`not a duration: ${JSON.stringify(text)} (e.g. 90s, 30m, 24h, 7d)`)
  return Number(match[1]) * unitMs[match[2] as keyof typeof unitMs]
}
