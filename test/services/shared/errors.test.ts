import t from 'tap'
import { isDependencyUnavailable, unknownFieldsError, withTimeout } from '../../../services/shared/errors.ts'

t.test('when Redis is down, full or loading, then the error counts as unavailable', async (t) => {
  for (const message of [
    "Stream isn't writeable and enableOfflineQueue options is false",
    'Connection is closed.',
    'Command timed out',
    'connect ECONNREFUSED 127.0.0.1:6379',
    "OOM command not allowed when used memory > 'maxmemory'.",
    'LOADING Redis is loading the dataset in memory',
    'READONLY You can\'t write against a read only replica.',
  ]) {
    t.ok(isDependencyUnavailable(new Error(message)), message)
  }
  t.ok(isDependencyUnavailable(Object.assign(new Error('INCR failed'), { code: 'NR_CLOSED' })))
  t.ok(isDependencyUnavailable(Object.assign(new Error('x'), { name: 'MaxRetriesPerRequestError' })))
  // A full Redis refuses every command queued in a MULTI, reads too; ioredis reports EXECABORT.
  const oom = new Error("OOM command not allowed when used memory > 'maxmemory'.")
  t.ok(isDependencyUnavailable(Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [oom] })))
})

t.test('when an error is a bug, then it is not mistaken for an outage', async (t) => {
  t.notOk(isDependencyUnavailable(new TypeError('Cannot read properties of undefined')))
  t.notOk(isDependencyUnavailable('ECONNREFUSED'))
  t.notOk(isDependencyUnavailable(new Error('WRONGTYPE Operation against a key holding the wrong kind of value')))
  const syntax = new Error("ERR unknown command 'HGETAL'")
  t.notOk(isDependencyUnavailable(Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: [syntax] })))
})

t.test('when a promise outlasts its timeout, then it rejects with a 503', async (t) => {
  const err = await withTimeout(new Promise(() => {}), 20, 'never').catch((e: unknown) => e)
  t.match(err, { status: 503, message: /try again/ })
  t.equal(await withTimeout(Promise.resolve(7), 20, 'quick'), 7)
})

t.test('when a schema reports unknown fields, then one 422 names up to five of them, quoted and cut short', async (t) => {
  const unknown = (name: string) => ({ keyword: 'additionalProperties', params: { additionalProperty: name } })
  t.equal(unknownFieldsError([{ keyword: 'type', params: {} }]), undefined, 'no unknown field, no error')
  const one = unknownFieldsError([unknown('note')])
  t.equal(one?.status, 422)
  t.equal(one?.message, 'Unknown field: "note"')
  const many = unknownFieldsError(['a', 'b"', 'c', 'd', 'x'.repeat(100), 'f', 'g'].map(unknown))
  t.equal(many?.message, `Unknown fields: "a", "b\\"", "c", "d", "${'x'.repeat(40)}" and 2 more`)
})
