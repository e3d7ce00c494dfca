/** A figure measured several times: its median, min and max (and the raw samples, for the JSON). */
export interface Figure {
  median: number
  min: number
  max: number
  samples: number[]
}

export function figure(samples: number[]): Figure {
  const sorted = [...samples].filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (sorted.length === 0) return { median: NaN, min: NaN, max: NaN, samples }
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples }
}

/** The p-th percentile (0-100) of raw values, nearest rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/** Ratio of two figures measured in the same run, pairwise (run i with run i), then the median of those. */
export function ratio(numerator: Figure, denominator: Figure): Figure {
  const n = Math.min(numerator.samples.length, denominator.samples.length)
  const samples: number[] = []
  for (let i = 0; i < n; i += 1) samples.push(numerator.samples[i]! / denominator.samples[i]!)
  return figure(samples)
}
