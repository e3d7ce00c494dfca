import t from 'tap'
import { parseDuration } from '../../../services/shared/duration.ts'
import { platform } from '../../../services/shared/platform.ts'

const durationPattern = platform.settings.TRANSACTION_RETENTION!.pattern!

t.test('when a duration has a unit s, m, h or d, then it is read in milliseconds', async (t) => {
  t.equal(parseDuration('90s'), 90_000)
  t.equal(parseDuration('30m'), 1_800_000)
  t.equal(parseDuration('24h'), 86_400_000)
  t.equal(parseDuration('7d'), 604_800_000)
})

t.test('when a text is not a duration, then it is refused, and the manifest\'s pattern for TRANSACTION_RETENTION agrees', async (t) => {
  for (const bad of ['', '0s', '10', 's', '1.5h', '1w', ' 1h', '1h ', '-1h', '1000000s']) {
    t.throws(() => parseDuration(bad), { message: /not a duration/ }, JSON.stringify(bad))
    t.notOk(new RegExp(durationPattern).test(bad), `the pattern refuses ${JSON.stringify(bad)} too`)
  }
})
