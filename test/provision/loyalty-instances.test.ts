// When LOYALTY_INSTANCES is applied and when a `pm2 scale loyalty N` by hand is left alone (the step
// that acts on it, ensurePm2Running, is verified by re-provisioning a machine).
import t from 'tap'
import { parseAppliedInstances, planLoyaltyInstances } from '../../provision/lib/loyalty-instances.ts'

t.test('when the setting equals the last applied value, then the running count is left alone, even a scaled one', async (t) => {
  for (const running of [1, 2, 5]) {
    t.same(planLoyaltyInstances({ wanted: 2, applied: 2, running }), { save: false, stamp: false }, `${running} running: no change, no drift`)
  }
})

t.test('when the setting differs from the last applied value, then loyalty is scaled to it, saved and remembered', async (t) => {
  t.same(planLoyaltyInstances({ wanted: 3, applied: 2, running: 2 }), {
    change: 'pm2 scale loyalty 3 (LOYALTY_INSTANCES 2 → 3; 2 running)',
    scaleTo: 3,
    save: true,
    stamp: true,
  })
  t.same(planLoyaltyInstances({ wanted: 2, applied: 3, running: 5 }), {
    change: 'pm2 scale loyalty 2 (LOYALTY_INSTANCES 3 → 2; 5 running)',
    scaleTo: 2,
    save: true,
    stamp: true,
  }, 'a scale by hand gives way to a new setting')
})

t.test('when the setting changes to the count already running, then it is saved and remembered without a scale (PM2 refuses a scale to the same count)', async (t) => {
  t.same(planLoyaltyInstances({ wanted: 4, applied: 2, running: 4 }), {
    change: 'pm2 save (LOYALTY_INSTANCES 2 → 4; 4 already running)',
    save: true,
    stamp: true,
  })
})

t.test('when nothing was applied yet and the start gave that many, then it is only remembered (not a change of its own)', async (t) => {
  t.same(planLoyaltyInstances({ wanted: 2, applied: undefined, running: 2 }), { save: false, stamp: true })
})

t.test('when nothing was applied yet and another count runs (a machine provisioned before the stamp), then the setting is applied', async (t) => {
  t.same(planLoyaltyInstances({ wanted: 3, applied: undefined, running: 2 }), {
    change: 'pm2 scale loyalty 3 (LOYALTY_INSTANCES 3; 2 running)',
    scaleTo: 3,
    save: true,
    stamp: true,
  })
})

t.test('when the stamp is read, then only a positive integer counts as applied', async (t) => {
  t.equal(parseAppliedInstances('3'), 3)
  t.equal(parseAppliedInstances('12'), 12)
  for (const bad of [undefined, '', '0', '-1', '2.5', 'two', '3 4']) t.equal(parseAppliedInstances(bad), undefined, JSON.stringify(bad))
})
