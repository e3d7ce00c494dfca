import { Ajv } from 'ajv'
import { unprocessable } from '../shared/errors.ts'
import { loyaltyQuerySchema, voucherPageLimits } from '../shared/openapi.ts'

/** Which vouchers of `GET /me` to answer: `limit` of them from position `start` (0 = the oldest). */
export interface VoucherPage {
  start: number
  limit: number
}

export const firstPage: VoucherPage = { start: 0, limit: voucherPageLimits.default }

export const pageMessages = {
  limit: `limit must be an integer from 1 to ${voucherPageLimits.max}`,
  cursor: 'cursor must be the next_cursor of a previous page',
} as const

const ajv = new Ajv({ allErrors: true })
const validateQuery = ajv.compile(loyaltyQuerySchema)

/**
 * The page a query asks for. The cursor is the position of the next voucher in the user's list: the
 * list only grows at its end, so a position stays valid while vouchers are earned. A repeated
 * parameter (an array), a non-number or an out-of-range limit is a 422; other parameters are ignored.
 */
export function readVoucherPage(query: Record<string, unknown>): VoucherPage {
  if (!validateQuery(query)) {
    const failed = new Set((validateQuery.errors ?? []).map((error) => error.instancePath))
    throw unprocessable(failed.has('/limit') ? pageMessages.limit : pageMessages.cursor)
  }
  const limit = query.limit === undefined ? voucherPageLimits.default : Number(query.limit)
  if (limit < 1 || limit > voucherPageLimits.max) throw unprocessable(pageMessages.limit)
  const start = query.cursor === undefined ? 0 : Number(query.cursor)
  return { start, limit }
}
