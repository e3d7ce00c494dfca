import t from 'tap'
import type { TransactionRecord } from '../../../services/shared/transactions.ts'
import { decideRetry, ORPHAN_AFTER_MS } from '../../../services/transaction-api/idempotency.ts'
import { NOT_ENQUEUED } from '../../../services/transaction-api/transaction-store.ts'

const at = '2024-05-01T12:00:00.000Z'
const now = new Date(Date.parse(at) + 1000)
const record = (changes: Partial<TransactionRecord> = {}): TransactionRecord => ({
  id: '6f1c1b1e-7c55-4a55-9f6e-0d4c3c1f5a11',
  user_id: 1,
  amount: 2000,
  currency: 'GBP',
  status: 'queued',
  created_at: at,
  updated_at: at,
  job_id: '7',
  ...changes,
})
const same = { amount: 2000, currency: 'GBP' }

t.test('when the request differs in amount or currency, then it is a mismatch, whatever the state', async (t) => {
  t.same(decideRetry(record(), { amount: 2001, currency: 'GBP' }, now), { action: 'mismatch' })
  t.same(decideRetry(record(), { amount: 2000, currency: 'EUR' }, now), { action: 'mismatch' })
  t.same(decideRetry(record({ status: 'failed', error: NOT_ENQUEUED }), { amount: 1, currency: 'GBP' }, now), { action: 'mismatch' })
})

t.test('when the first attempt was queued, processed or failed by the worker, then replay', async (t) => {
  for (const status of ['queued', 'processing', 'completed', 'failed'] as const) {
    t.same(decideRetry(record({ status }), same, now), { action: 'replay' }, status)
  }
  t.same(decideRetry(record({ status: 'completed', job_id: undefined }), same, now), { action: 'replay' }, 'done, even without a job id')
  t.same(decideRetry(record({ status: 'failed', error: 'worker gave up' }), same, now), { action: 'replay' })
})

t.test('when the first attempt could not enqueue, then enqueue again', async (t) => {
  t.same(decideRetry(record({ status: 'failed', error: NOT_ENQUEUED, job_id: undefined }), same, now), { action: 'enqueue-again' })
})

t.test('when the record is queued without a job id, then wait while young, enqueue again once an orphan', async (t) => {
  t.same(decideRetry(record({ job_id: undefined }), same, now), { action: 'wait' })
  const later = new Date(Date.parse(at) + ORPHAN_AFTER_MS + 1)
  t.same(decideRetry(record({ job_id: undefined }), same, later), { action: 'enqueue-again', staleUpdatedAt: at })
})
