// `node --import tsx bench/cache-micro.ts`: the bounded caches' cost per lookup, lru-cache (what the
// services use: the token cache, the verified-credentials cache, the dashboard's failed logins) beside
// the hand-written Map it replaced. A lookup is on every request; what a hit saves (a jwt.verify, an
// scrypt) and the figures: docs/performance.md, "Bounded caches".
import { LRUCache } from 'lru-cache'

const SIZE = 1000
const LOOKUPS = 2_000_000
const INSERTS = 200_000
const keys = Array.from({ length: SIZE }, (_, i) => `eyJhbGciOiJIUzI1NiJ9.${'x'.repeat(150)}${i}`)
const fresh = Array.from({ length: INSERTS }, (_, i) => `${keys[i % SIZE]!}.${i}`)
const value = Object.freeze({ user_id: 1, exp: 2e9 })

interface Cache { get(key: string): unknown; set(key: string, v: unknown): void }

/** The Map the services had: insertion order, the oldest dropped when full. */
function mapCache(): Cache {
  const map = new Map<string, unknown>()
  return {
    get: (key) => map.get(key),
    set: (key, v) => {
      if (map.size >= SIZE) map.delete(map.keys().next().value!)
      map.set(key, v)
    },
  }
}

const lruCache = (): Cache => new LRUCache<string, object>({ max: SIZE }) as unknown as Cache

function measure(make: () => Cache): { lookup: number; insert: number } {
  const cache = make()
  for (const key of keys) cache.set(key, value)
  let hits = 0
  const started = process.hrtime.bigint()
  for (let i = 0; i < LOOKUPS; i++) if (cache.get(keys[i % SIZE]!) !== undefined) hits++
  const looked = process.hrtime.bigint()
  for (const key of fresh) cache.set(key, value)
  const inserted = process.hrtime.bigint()
  if (hits !== LOOKUPS) throw new Error('a lookup missed')
  return { lookup: Number(looked - started) / LOOKUPS, insert: Number(inserted - looked) / INSERTS }
}

const rounds = 5
const results: Record<string, { lookup: number[]; insert: number[] }> = { 'Map (before)': { lookup: [], insert: [] }, 'lru-cache': { lookup: [], insert: [] } }
for (let round = 0; round < rounds; round++) {
  // Interleaved, so that both see the same machine.
  for (const [name, make] of [['Map (before)', mapCache], ['lru-cache', lruCache]] as const) {
    const { lookup, insert } = measure(make)
    results[name]!.lookup.push(lookup)
    results[name]!.insert.push(insert)
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
console.log(`${SIZE} entries, ${LOOKUPS.toLocaleString('en')} lookups (hits), ${INSERTS.toLocaleString('en')} inserts (each evicting), median of ${rounds} interleaved rounds`)
for (const [name, { lookup, insert }] of Object.entries(results)) {
  console.log(`${name.padEnd(14)} lookup ${median(lookup).toFixed(0).padStart(4)} ns   insert ${median(insert).toFixed(0).padStart(5)} ns`)
}
