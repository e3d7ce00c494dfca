import t from 'tap'
import type { TransactionRecord } from '../../../services/shared/transactions.ts'
import { decideRetry } from '../../../services/transaction-api/idempotency.ts'

const at = '2024-05-01T12:00:00.000Z'
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
  t.same(decideRetry(record(), { amount: 2001, currency: 'GBP' }), { action: 'mismatch' })
  t.same(decideRetry(record(), { amount: 2000, currency: 'EUR' }), { action: 'mismatch' })
  t.same(decideRetry(record({ status: 'failed', error: 'worker gave up' }), { amount: 1, currency: 'GBP' }), { action: 'mismatch' })
})

t.test('when the first attempt was queued, processed or failed by the worker, then replay', async (t) => {
  for (const status of ['queued', 'processing', 'completed', 'failed'] as const) {
    t.same(decideRetry(record({ status }), same), { action: 'replay' }, status)
  }
})
