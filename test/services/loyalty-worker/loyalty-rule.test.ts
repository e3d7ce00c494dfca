import t from 'tap'
import { earnStamp, loyaltyAfter } from './loyalty-rule.ts'

t.test('when a transaction is processed, then it earns one stamp', async (t) => {
  t.same(earnStamp(0, 10), { stamps: 1, voucherIssued: false })
  t.same(earnStamp(7, 10), { stamps: 8, voucherIssued: false })
})

t.test('when the stamps reach the threshold, then they are exchanged for a voucher', async (t) => {
  t.same(earnStamp(9, 10), { stamps: 0, voucherIssued: true })
  t.same(earnStamp(2, 3), { stamps: 0, voucherIssued: true })
})

t.test('when the threshold is 1, then every transaction issues a voucher and no stamp is kept', async (t) => {
  t.same(earnStamp(0, 1), { stamps: 0, voucherIssued: true })
  t.same(loyaltyAfter(5, 1), { stamps: 0, vouchers: 5 })
})

t.test('when transactions go past a threshold, then the remainder carries on', async (t) => {
  t.same(loyaltyAfter(3, 3), { stamps: 0, vouchers: 1 })
  t.same(loyaltyAfter(7, 3), { stamps: 1, vouchers: 2 })
  t.same(loyaltyAfter(10, 10), { stamps: 0, vouchers: 1 })
  t.same(loyaltyAfter(23, 10), { stamps: 3, vouchers: 2 })
  t.same(loyaltyAfter(0, 10), { stamps: 0, vouchers: 0 })
})

t.test('when the threshold was lowered below the stamps held, then the excess is exchanged one voucher per transaction', async (t) => {
  t.same(earnStamp(12, 5), { stamps: 8, voucherIssued: true })
  t.same(earnStamp(8, 5), { stamps: 4, voucherIssued: true })
})

t.test('when the threshold is not a positive integer, then the rule refuses it', async (t) => {
  for (const bad of [0, -1, 2.5, Number.NaN]) t.throws(() => earnStamp(0, bad), RangeError, String(bad))
})
