// What a file change looks like for --diff and --json: a unified diff of what is on the machine against
// what the run writes, with secret values redacted on both sides. A changed secret still shows as a
// changed line, never its value.
import { createTwoFilesPatch } from 'diff'
import { platform } from '../../services/shared/platform.ts'

const REDACTED = '<redacted>'

// Secret settings of the manifest, the provisioner's own (REDIS_PASSWORD), each app's Redis URL (REDIS_URL_<APP>,
// with its password), and any name that says so.
const secretNames = new Set([...Object.entries(platform.settings).filter(([, s]) => s.secret === true).map(([name]) => name), 'REDIS_PASSWORD'])
const secretName = /(SECRET|PASSWORD|PASSWD|TOKEN|_KEY)$|^REDIS_URL_/i

type Line = { key: string; prefix: string; value: string; suffix?: string } | undefined

/** A line that holds a secret: its key (the variable or directive), what comes before the value, and the value. */
function secretLine(line: string): Line {
  const env = /^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_]*)(\s*=\s*)(.+)$/.exec(line)
  if (env !== null && (secretNames.has(env[2]!) || secretName.test(env[2]!))) return { key: env[2]!, prefix: `${env[1]}${env[2]}${env[3]}`, value: env[4]! }
  const directive = /^(\s*(requirepass|masterauth)\s+)(\S.*)$/.exec(line)
  if (directive !== null) return { key: directive[2]!, prefix: directive[1]!, value: directive[3]! }
  // ACL users: `user name on >password ~keys +@cmds`, or `#<sha256 of it>` (provision/render/redis-acl.ts).
  const acl = /^(\s*user\s+(\S+)\s.*?(?:>|#(?=[0-9a-f]{64}\b)))(\S+)(.*)$/.exec(line)
  if (acl !== null) return { key: `user ${acl[2]}`, prefix: acl[1]!, value: acl[3]!, suffix: acl[4]! }
  return undefined
}

/**
 * The text with every secret value replaced: env lines, Redis's password directives and ACL users, and
 * passwords in URLs. Given the text it replaces, a secret whose value differs there is marked changed,
 * so that a diff still shows the change (never the value).
 */
export function redactSecrets(text: string, previous?: string): string {
  const before = new Map<string, string>()
  for (const line of previous?.split('\n') ?? []) {
    const secret = secretLine(line)
    if (secret !== undefined) before.set(secret.key, secret.value)
  }
  return text
    .split('\n')
    .map((line) => {
      const secret = secretLine(line)
      if (secret === undefined) return line.replace(/(\w+:\/\/[^:/@\s]*:)[^@\s]+@/g, `$1${REDACTED}@`)
      const was = before.get(secret.key)
      return `${secret.prefix}${was !== undefined && was !== secret.value ? `${REDACTED} (changed)` : REDACTED}${secret.suffix ?? ''}`
    })
    .join('\n')
}

/**
 * The unified diff from `before` (undefined: the file does not exist) to `after`, both redacted, with
 * three lines of context. Binary content is summarised, not diffed.
 */
export function fileDiff(path: string, before: Buffer | undefined, after: Buffer): string {
  const isText = (buffer: Buffer | undefined): boolean => buffer === undefined || !buffer.subarray(0, 8000).includes(0)
  if (!isText(before) || !isText(after)) return `Binary file ${path}: ${before?.length ?? 0} → ${after.length} bytes\n`
  const oldText = before?.toString('utf8') ?? ''
  const old = redactSecrets(oldText)
  const next = redactSecrets(after.toString('utf8'), oldText)
  const patch = createTwoFilesPatch(before === undefined ? '/dev/null' : path, path, old, next, '', '', { context: 3 })
  // jsdiff may start with an "Index:" line and a rule, which `diff -u` and git do not print.
  return patch.replace(/^Index: .*\n/, '').replace(/^=+\n/, '')
}
