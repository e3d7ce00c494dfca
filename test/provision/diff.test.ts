import t from 'tap'
import { fileDiff, redactSecrets } from '../../provision/lib/diff.ts'

t.test('when a text holds secrets, then each kind is redacted and the rest kept', async (t) => {
  const text = [
    'JWT_SECRET=aaaaaaaa',
    'REDIS_PASSWORD=bbbbbbbb',
    'REDIS_URL=redis://:cccccccc@127.0.0.1:6379/0',
    'QUEUE_DASHBOARD_PASSWORD=dddddddd',
    'export SOME_API_TOKEN=eeeeeeee',
    'requirepass ffffffff',
    'user loyalty on >gggggggg ~loyalty:* +@read',
    `user auth on #${'9'.repeat(64)} resetkeys ~user:* -@all +hget`,
    'REDIS_URL_AUTH=redis://auth:iiiiiiii@127.0.0.1:6379/0',
    'upstream http://admin:hhhhhhhh@example.test/',
    'LOG_LEVEL=info',
    'JWT_SECRET=',
  ].join('\n')
  const redacted = redactSecrets(text)
  for (const secret of ['aaaaaaaa', 'bbbbbbbb', 'cccccccc', 'dddddddd', 'eeeeeeee', 'ffffffff', 'gggggggg', 'hhhhhhhh', '9'.repeat(64), 'iiiiiiii']) t.notMatch(redacted, secret, `${secret} is gone`)
  t.same(redacted.split('\n'), [
    'JWT_SECRET=<redacted>',
    'REDIS_PASSWORD=<redacted>',
    'REDIS_URL=<redacted>',
    'QUEUE_DASHBOARD_PASSWORD=<redacted>',
    'export SOME_API_TOKEN=<redacted>',
    'requirepass <redacted>',
    'user loyalty on ><redacted> ~loyalty:* +@read',
    'user auth on #<redacted> resetkeys ~user:* -@all +hget',
    'REDIS_URL_AUTH=<redacted>',
    'upstream http://admin:<redacted>@example.test/',
    'LOG_LEVEL=info',
    'JWT_SECRET=',
  ])
})

t.test('when only a secret changes, then the diff shows the line changed, never a value', async (t) => {
  const diff = fileDiff('/etc/yoyo-platform/platform.env', Buffer.from('A=1\nJWT_SECRET=one\nB=2\n'), Buffer.from('A=1\nJWT_SECRET=two\nB=2\n'))
  t.equal(diff, '--- /etc/yoyo-platform/platform.env\n+++ /etc/yoyo-platform/platform.env\n@@ -1,3 +1,3 @@\n A=1\n-JWT_SECRET=<redacted>\n+JWT_SECRET=<redacted> (changed)\n B=2\n')
})

t.test('when a file is binary, then its diff is a one-line summary', async (t) => {
  t.equal(fileDiff('/x.png', Buffer.from([0, 1, 2]), Buffer.from([0, 1, 2, 3])), 'Binary file /x.png: 3 → 4 bytes\n')
})
