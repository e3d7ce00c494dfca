import { inspect } from 'node:util'
import t from 'tap'
import { createVerifiedCredentials, DEFAULT_MAX_ENTRIES, DEFAULT_TTL_MS } from '../../../services/auth-api/credentials-cache.ts'

const stored = 'scrypt$32768$8$1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaA=='

t.test('when a pair was verified, then the same pair against the same stored hash is remembered', async (t) => {
  const cache = createVerifiedCredentials()
  t.equal(cache.has('alice', 'password', stored), false)
  cache.remember('alice', 'password', stored)
  t.equal(cache.has('alice', 'password', stored), true)
  t.equal(cache.size, 1)
})

t.test('when the password differs, then it never matches', async (t) => {
  const cache = createVerifiedCredentials()
  cache.remember('alice', 'password', stored)
  for (const wrong of ['Password', 'password ', '', 'passwor']) t.equal(cache.has('alice', wrong, stored), false, JSON.stringify(wrong))
  t.equal(cache.has('bob', 'password', stored), false, 'another user')
})

t.test('when the stored hash changes, then the old entry no longer matches', async (t) => {
  const cache = createVerifiedCredentials()
  cache.remember('alice', 'password', stored)
  t.equal(cache.has('alice', 'password', stored.replace('aGFzaA==', 'aGFzaB==')), false)
})

t.test('when the parts are shifted between fields, then they do not collide', async (t) => {
  const cache = createVerifiedCredentials()
  cache.remember('alice', 'password', stored)
  t.equal(cache.has('alicep', 'assword', stored), false)
})

t.test('when the TTL has passed, then the entry is gone (it is not extended by use)', async (t) => {
  let now = 1_000_000
  const cache = createVerifiedCredentials({ ttlMs: 60_000, now: () => now })
  cache.remember('alice', 'password', stored)
  now += 59_999
  t.equal(cache.has('alice', 'password', stored), true)
  now += 1
  t.equal(cache.has('alice', 'password', stored), false)
  t.equal(cache.size, 0)
  t.equal(DEFAULT_TTL_MS, 60_000)
})

t.test('when more users than the bound are remembered, then the least recently used go first', async (t) => {
  const cache = createVerifiedCredentials({ maxEntries: 3 })
  for (const user of ['a', 'b', 'c']) cache.remember(user, 'pw', stored)
  t.equal(cache.has('a', 'pw', stored), true, 'a is now the most recently used')
  cache.remember('d', 'pw', stored)
  t.equal(cache.size, 3)
  t.equal(cache.has('b', 'pw', stored), false, 'b was the least recently used')
  for (const user of ['a', 'c', 'd']) t.equal(cache.has(user, 'pw', stored), true, user)
  t.equal(DEFAULT_MAX_ENTRIES, 10_000)
})

t.test('when a user logs in again, then the entry is replaced, not duplicated', async (t) => {
  const cache = createVerifiedCredentials()
  cache.remember('alice', 'old password', stored)
  cache.remember('alice', 'new password', stored)
  t.equal(cache.size, 1)
  t.equal(cache.has('alice', 'old password', stored), false)
  t.equal(cache.has('alice', 'new password', stored), true)
})

t.test('when the cache is inspected, then no password is in it', async (t) => {
  const cache = createVerifiedCredentials()
  cache.remember('alice', 'a-very-distinctive-password', stored)
  t.notMatch(inspect(cache, { depth: 10, showHidden: true }), 'a-very-distinctive-password')
})

t.test('when fingerprinting, then the same triple gives the same opaque name, in this process only', async (t) => {
  const cache = createVerifiedCredentials()
  const other = createVerifiedCredentials()
  t.equal(cache.fingerprint('alice', 'password', stored), cache.fingerprint('alice', 'password', stored))
  t.not(cache.fingerprint('alice', 'password', stored), cache.fingerprint('alice', 'passwore', stored))
  t.not(cache.fingerprint('alice', 'password', stored), other.fingerprint('alice', 'password', stored), 'a per-process key')
  t.notMatch(cache.fingerprint('alice', 'password', stored), 'password')
})
