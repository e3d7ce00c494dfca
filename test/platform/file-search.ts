// Searches and reads files without reading them whole: the platform's logs grow past what one string
// can hold (a benchmark's run leaves a PM2 log of ~1 GB), and a file that cannot be read must fail the
// search, not count as empty.
import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'

/** The names of the `needles` whose value occurs in `file`. Rejects when the file cannot be read. */
export async function namesFoundIn(file: string, needles: Array<[string, string]>): Promise<string[]> {
  const found = new Set<string>()
  // A value split across two chunks is still seen: each chunk is searched with the end of the previous.
  const overlap = Math.max(0, ...needles.map(([, value]) => value.length - 1))
  let tail = ''
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = tail + (chunk as string)
    for (const [name, value] of needles) if (text.includes(value)) found.add(name)
    tail = overlap === 0 ? '' : text.slice(-overlap)
  }
  return needles.map(([name]) => name).filter((name) => found.has(name))
}

/** The lines of `file` written after byte `start` (its size before the writes of interest), read as a stream. */
export function linesFrom(file: string, start: number): AsyncIterable<string> {
  return createInterface({ input: createReadStream(file, { encoding: 'utf8', start }), crlfDelay: Infinity })
}
