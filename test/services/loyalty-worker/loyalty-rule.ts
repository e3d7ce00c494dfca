/**
 * The loyalty rule, as a pure function: every processed transaction earns one stamp, and every
 * `stampsPerVoucher` stamps are exchanged for one voucher; the count goes on from the remainder.
 * services/loyalty-worker/award.ts applies the same rule atomically inside Redis (Lua); tests keep the two in step.
 */
export const STAMPS_PER_TRANSACTION = 1

export interface StampOutcome {
  /** Stamps the user holds after this transaction (always below the threshold when it has not changed). */
  stamps: number
  /** Whether this transaction completed a card and issued a voucher. */
  voucherIssued: boolean
}

export function earnStamp(stampsBefore: number, stampsPerVoucher: number): StampOutcome {
  if (!Number.isInteger(stampsPerVoucher) || stampsPerVoucher < 1) {
    throw new RangeError(`stampsPerVoucher must be a positive integer, got ${stampsPerVoucher}`)
  }
  const stamps = stampsBefore + STAMPS_PER_TRANSACTION
  // At most one voucher per transaction: if the threshold was lowered, the excess is exchanged one
  // voucher per later transaction instead of all at once.
  if (stamps >= stampsPerVoucher) return { stamps: stamps - stampsPerVoucher, voucherIssued: true }
  return { stamps, voucherIssued: false }
}

/** Where `transactions` transactions leave a new user: the rule folded over a sequence. */
export function loyaltyAfter(transactions: number, stampsPerVoucher: number): { stamps: number; vouchers: number } {
  let stamps = 0
  let vouchers = 0
  for (let i = 0; i < transactions; i++) {
    const outcome = earnStamp(stamps, stampsPerVoucher)
    stamps = outcome.stamps
    if (outcome.voucherIssued) vouchers++
  }
  return { stamps, vouchers }
}
