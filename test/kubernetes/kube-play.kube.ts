// The Kubernetes pod specs, for real: the dev overlay (deploy/kubernetes/overlays/dev) built as kubectl
// would, then its Deployments, Redis and the users' Job run by `podman kube play` from the image
// (deploy/container/Containerfile, built here on the stand-in base: test/helpers/container-image.ts).
// No API server can run here, so what needs one is done by this test, as little as it can:
//   - the generated Secret's data becomes a podman secret (kube play reads secretKeyRef from those); the
//     ConfigMaps go in the played YAML as they are;
//   - Redis's StatefulSet and the Job are played as Pods (kube play knows Pod, Deployment, ConfigMap and
//     PersistentVolumeClaim), Redis's claim as a directory of this test (hostPath);
//   - every pod shares one network namespace of the test's own (`nsenter --net=... podman kube play
//     --network host`: a Service per app needs a cluster; here each app keeps its own port, the manifest's,
//     and REDIS_URL names the pods' loopback instead of the Service redis);
//   - the images are the test's build (kustomize `images` would do the same), and $(VAR) in a command is
//     expanded by the test, as the kubelet does (podman does not).
// Then the probes are made as the kubelet makes them (each probe's path and named port, from the YAML),
// the restrictions are read from the running processes (user, capabilities, no_new_privs, seccomp,
// read-only root), the API flow runs on the pods, and a pod is stopped within its grace.
//
//   npm run test:kubernetes     (as root: podman, catatonit, ip netns, nsenter; installs nothing)
//
// Removed afterwards, even on failure: the pods, their ConfigMap volumes, the podman secret, the namespace and its veth, the temp
// dir and the image this run built (the stand-in base and the Redis testbed image are kept, as a cache).
import { execFileSync } from 'node:child_process'
import { chownSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { stringify } from 'yaml'
import { kubernetesDir, redisImage, secretKeysOf } from '../../deploy/kubernetes/render.ts'
import { appNamesOf, platform } from '../../services/shared/platform.ts'
import { buildImage, ensureStandInBase, ensureTestbed, firstWords, isDeadRun, must, podman, podmanGlobal, repoRoot, run, ulimits } from '../helpers/container-image.ts'
import { request } from '../helpers/http-client.ts'
import { type K8sObject, kustomizeBuild, podSpecsOf } from '../helpers/kustomize.ts'

const started = performance.now()
const id = process.pid
const prefix = `yoyo-kt-${id}`
const image = `localhost/yoyo-platform:kt-${id}`
const ns = prefix
const hostIf = `ykt${id}h`
const nsIf = `ykt${id}n`
const secretName = `${prefix}-secrets`
const apps = appNamesOf(platform)
const played: string[] = []
let dir = ''
let imageBuilt = false
let secretMade = false

const seconds = (ms: number): string => (ms / 1000).toFixed(1)

/** Synchronous, for an abrupt exit too: only what this run made, by name. */
function removeEverything(): void {
  const quiet = { stdio: 'ignore' as const, timeout: 60_000 }
  const attempt = (file: string, args: string[]): void => {
    try {
      execFileSync(file, args, quiet)
    } catch {
      // not there
    }
  }
  for (const file of played.splice(0).reverse()) attempt('podman', [...podmanGlobal, 'kube', 'down', file])
  // Whatever kube down left (a pod of a play that failed half-way).
  try {
    const pods = execFileSync('podman', [...podmanGlobal, 'pod', 'ps', '--format', '{{.Name}}'], { encoding: 'utf8', timeout: 30_000 })
    for (const pod of pods.split('\n').filter((name) => name.startsWith(`${prefix}-`))) attempt('podman', [...podmanGlobal, 'pod', 'rm', '--force', '--time', '0', pod])
  } catch {
    // podman gone
  }
  try {
    const volumes = execFileSync('podman', [...podmanGlobal, 'volume', 'ls', '--format', '{{.Name}}'], { encoding: 'utf8', timeout: 30_000 })
    for (const volume of volumes.split('\n').filter((name) => name.startsWith(`${prefix}-`))) attempt('podman', [...podmanGlobal, 'volume', 'rm', '--force', volume])
  } catch {
    // podman gone
  }
  if (secretMade) attempt('podman', [...podmanGlobal, 'secret', 'rm', secretName])
  secretMade = false
  attempt('ip', ['netns', 'delete', ns])
  attempt('ip', ['link', 'delete', hostIf])
  if (dir !== '') rmSync(dir, { recursive: true, force: true })
  if (imageBuilt) attempt('podman', [...podmanGlobal, 'rmi', '--force', image])
  imageBuilt = false
}
process.once('exit', removeEverything)
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    removeEverything()
    process.exit(1)
  })
}
t.teardown(removeEverything)

if (process.getuid?.() !== 0 || (await run('podman', ['--version'])).code !== 0 || (await run('nsenter', ['--version'])).code !== 0) {
  // Reported as skipped (TAP's 1..0 # SKIP), never as a pass.
  t.plan(0, 'skipped: needs root, podman, catatonit and nsenter (apt-get install podman catatonit util-linux)')
  process.exit(0)
}

/** What an earlier run killed outright (SIGKILL) left: its pods, secret, namespace, veth and image, by the pid in their names. */
async function sweepDeadRuns(): Promise<void> {
  const dead = (name: string, pattern: RegExp): boolean => isDeadRun(name, pattern, id)
  const names = firstWords
  for (const name of names((await podman(['pod', 'ps', '--format', '{{.Name}}'])).stdout)) {
    if (dead(name, /^yoyo-kt-(\d+)-/)) await podman(['pod', 'rm', '--force', '--time', '0', name])
  }
  for (const name of names((await podman(['volume', 'ls', '--format', '{{.Name}}'])).stdout)) {
    if (dead(name, /^yoyo-kt-(\d+)-/)) await podman(['volume', 'rm', '--force', name])
  }
  for (const name of names((await podman(['secret', 'ls', '--format', '{{.Name}}'])).stdout)) {
    if (dead(name, /^yoyo-kt-(\d+)-/)) await podman(['secret', 'rm', name])
  }
  for (const name of names((await run('ip', ['netns', 'list'])).stdout)) {
    if (dead(name, /^yoyo-kt-(\d+)$/)) await run('ip', ['netns', 'delete', name])
  }
  for (const name of names((await run('ip', ['-o', 'link', 'show'])).stdout.replace(/^\d+: /gm, ''))) {
    const link = name.replace(/[:@].*$/, '')
    if (dead(link, /^ykt(\d+)h$/)) await run('ip', ['link', 'delete', link])
  }
  for (const name of names((await podman(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout)) {
    if (dead(name, /^localhost\/yoyo-platform:kt-(\d+)$/)) await podman(['rmi', '--force', name])
  }
}
await sweepDeadRuns()

// --- The image and Redis's stand-in (the testbed: Debian's redis-server on the same base) -----------------
const log = (line: string): void => t.comment(line)
const base = await ensureStandInBase(log)
const build = await buildImage(image, log)
imageBuilt = true
const testbed = await ensureTestbed(base.name)
t.comment(`figures kubernetes-build: image_build_s=${seconds(build.ms)} base_build_s=${base.built ? seconds(base.ms) : 'cached'} testbed_s=${seconds(testbed.ms)}`)

// --- The secrets, made by the README's own command ------------------------------------------------------------
dir = await mkdtemp(join(tmpdir(), 'yoyo-kube-'))
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
const snippet = /^REDIS_PASSWORD=\$\(openssl rand[\s\S]*?^chmod 600 secrets\.env/m.exec(readme)?.[0]
if (snippet === undefined) throw new Error('README.md has no secrets.env command (REDIS_PASSWORD=$(openssl rand ... chmod 600 secrets.env)')
await must('bash', ['-euo', 'pipefail', '-c', snippet], { cwd: dir })
const secretsEnv = await readFile(join(dir, 'secrets.env'), 'utf8')

t.test("when the README's command makes secrets.env, then it has every key of the Secret, each valid", async (t) => {
  const pairs = new Map(secretsEnv.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))
  t.same([...pairs.keys()].sort(), secretKeysOf(platform).sort(), 'the keys the overlay\'s Secret needs')
  for (const [name, value] of pairs) {
    const setting = platform.settings[name]
    if (setting?.minLength !== undefined) t.ok(value.length >= setting.minLength, `${name}: at least ${setting.minLength} characters`)
    if (setting?.pattern !== undefined) t.match(value, new RegExp(setting.pattern), `${name}: ${setting.about}`)
  }
  t.equal(pairs.get('REDIS_URL'), `redis://:${pairs.get('REDIS_PASSWORD')}@redis:6379/0`, 'REDIS_URL holds the same password, and names the Service redis')
})

// --- The dev overlay, as kubectl would apply it, turned into what kube play runs ----------------------------
const overlayDir = join(repoRoot, kubernetesDir, 'overlays', 'dev')
const objects = kustomizeBuild(overlayDir, { [join(overlayDir, 'secrets.env')]: secretsEnv })
const secret = objects.find((o) => o.kind === 'Secret')!
const generatedSecret = secret.metadata.name

interface Container {
  name: string
  image: string
  command?: string[]
  args?: string[]
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string } } }[]
  ports?: { name?: string; containerPort: number }[]
  startupProbe?: Probe
  readinessProbe?: Probe
  livenessProbe?: Probe
  volumeMounts?: { name: string; mountPath: string }[]
}
interface Probe {
  httpGet?: { path: string; port: string | number }
  tcpSocket?: { port: string | number }
  exec?: { command: string[] }
  periodSeconds?: number
  failureThreshold?: number
}
interface PodSpec {
  containers: Container[]
  restartPolicy?: string
  terminationGracePeriodSeconds?: number
  volumes?: Record<string, unknown>[]
  securityContext?: { runAsUser?: number }
}

/** The value the kubelet gives an env entry: literal, or from the Secret or a ConfigMap of the overlay. */
function envValue(entry: { value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } }): string | undefined {
  if (entry.value !== undefined) return entry.value
  const fromSecret = entry.valueFrom?.secretKeyRef
  if (fromSecret !== undefined) {
    const encoded = (objects.find((o) => o.kind === 'Secret' && o.metadata.name === fromSecret.name)?.data as Record<string, string> | undefined)?.[fromSecret.key]
    return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString()
  }
  const fromConfigMap = entry.valueFrom?.configMapKeyRef
  if (fromConfigMap !== undefined) return (objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === fromConfigMap.name)?.data as Record<string, string> | undefined)?.[fromConfigMap.key]
  return undefined
}

/**
 * The kubelet expands $(NAME) in command and args from the container's environment ($$ escapes it);
 * podman 4.3's kube play does not (Redis then takes "$(REDIS_PASSWORD)" for its password: checked), so the
 * test does it, as the kubelet would, from the values the kubelet would use.
 */
function expandReferences(container: Container): void {
  const values = new Map((container.env ?? []).map((entry) => [entry.name, envValue(entry as Parameters<typeof envValue>[0])]))
  const expand = (text: string): string => text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string | undefined) => (name === undefined ? '$' : values.get(name) ?? all))
  if (container.command !== undefined) container.command = container.command.map(expand)
  if (container.args !== undefined) container.args = container.args.map(expand)
}

/** A workload's pod spec, ready for kube play: the test's images, the Secret's podman name, this run's ConfigMap names. */
function forPodman(object: K8sObject): PodSpec {
  const spec = structuredClone(podSpecsOf(object)[0]) as unknown as PodSpec
  for (const container of spec.containers) {
    container.image = container.image === redisImage ? testbed.name : image
    expandReferences(container)
    for (const env of container.env ?? []) if (env.valueFrom?.secretKeyRef?.name === generatedSecret) env.valueFrom.secretKeyRef.name = secretName
  }
  // kube play keeps a ConfigMap's volume as a named volume of the ConfigMap's name: this run's own names.
  for (const container of spec.containers) {
    for (const env of container.env ?? []) {
      const ref = (env.valueFrom as { configMapKeyRef?: { name: string } } | undefined)?.configMapKeyRef
      if (ref !== undefined) ref.name = `${prefix}-${ref.name}`
    }
  }
  for (const volume of spec.volumes ?? []) {
    const configMap = (volume as { configMap?: { name: string } }).configMap
    if (configMap !== undefined) configMap.name = `${prefix}-${configMap.name}`
  }
  return spec
}
const podOf = (name: string, spec: PodSpec, labels: Record<string, string> = {}): object => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${prefix}-${name}`, labels }, spec })
const configMaps = objects.filter((o) => o.kind === 'ConfigMap').map((o) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${prefix}-${o.metadata.name}` }, data: o.data }))

const redisSet = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'redis')!
const redisSpec = forPodman(redisSet)
const redisData = join(dir, 'redis-data')
mkdirSync(redisData, { mode: 0o700 })
// The claim's volume, owned as fsGroup would make it.
chownSync(redisData, redisSpec.securityContext?.runAsUser ?? 999, redisSpec.securityContext?.runAsUser ?? 999)
redisSpec.volumes = [...(redisSpec.volumes ?? []), { name: 'data', hostPath: { path: redisData, type: 'Directory' } }]

const deployments = objects.filter((o) => o.kind === 'Deployment')
const job = objects.find((o) => o.kind === 'Job')!
const appSpecs = new Map(deployments.map((d) => [d.metadata.name, forPodman(d)]))

const nsAddress = { host: '', pod: '' }
/**
 * The documents as kube play takes them: without the containers' `ports` (podman maps a containerPort to
 * the host, which it refuses on the host network; here every port is the pod's own already). The probes
 * still resolve their named ports from the spec (appSpecs, redisSpec).
 */
function withoutPorts(document: object): object {
  const copy = structuredClone(document) as K8sObject
  const specs = copy.kind === 'Pod' ? [copy.spec as PodSpec] : podSpecsOf(copy).map((spec) => spec as unknown as PodSpec)
  for (const spec of specs) for (const container of spec.containers ?? []) delete container.ports
  return copy
}
/**
 * kube play has no --ulimit: the limits the container test gives each container (ulimits in
 * container-image.ts: runc cannot raise nofile past this machine's limit) go in a containers.conf of the
 * test's own, for the kube play runs only.
 */
const containersConf = (): string => join(dir, 'containers.conf')
const play = async (name: string, documents: object[]): Promise<void> => {
  const file = join(dir, `${name}.yaml`)
  await writeFile(file, documents.map((d) => stringify(withoutPorts(d), { lineWidth: 0 })).join('---\n'))
  played.push(file)
  const limits = []
  for (let i = 0; i + 1 < ulimits.length; i += 2) limits.push(JSON.stringify(ulimits[i + 1]))
  await writeFile(containersConf(), `[containers]\ndefault_ulimits = [${limits.join(', ')}]\n`)
  await must('env', [`CONTAINERS_CONF=${containersConf()}`, 'nsenter', `--net=/run/netns/${ns}`, 'podman', ...podmanGlobal, 'kube', 'play', '--network', 'host', file], { timeoutMs: 180_000 })
}
const containerOf = (pod: string, container: string): string => `${prefix}-${pod}-pod-0-${container}`
/**
 * `podman exec` in a pod: from inside the namespace. The pods are on its "host" network, which for a
 * process started by runc exec is the network of whoever runs podman exec: from outside, redis-cli would
 * ask the machine's own 127.0.0.1.
 */
const execIn = (container: string, command: string[], env: string[] = []): ReturnType<typeof run> =>
  run('nsenter', [`--net=/run/netns/${ns}`, 'podman', ...podmanGlobal, 'exec', ...env.flatMap((e) => ['--env', e]), container, ...command], { timeoutMs: 10_000 })
const url = (port: number, path: string): string => `http://${nsAddress.pod}:${port}${path}`
const portOf = (container: Container, port: string | number | undefined): number =>
  typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort ?? Number.NaN

/** A probe as the kubelet makes it: GET <path> on the pod's address and named port (2xx/3xx), a TCP connect, or a command in the container. */
async function probe(pod: string, container: Container, which: Probe | undefined): Promise<{ ok: boolean; said: string }> {
  if (which?.httpGet !== undefined) {
    const reply = await request(url(portOf(container, which.httpGet.port), which.httpGet.path), { timeoutMs: 2000 }).catch((err: Error) => ({ status: 0, text: err.message }))
    return { ok: reply.status >= 200 && reply.status < 400, said: `${reply.status}` }
  }
  if (which?.exec !== undefined) {
    const result = await execIn(containerOf(pod, container.name), which.exec.command)
    return { ok: result.code === 0, said: (result.stdout + result.stderr).trim() }
  }
  if (which?.tcpSocket !== undefined) {
    const port = portOf(container, which.tcpSocket.port)
    const result = await run('nsenter', [`--net=/run/netns/${ns}`, 'bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], { timeoutMs: 5000 })
    return { ok: result.code === 0, said: result.code === 0 ? 'connected' : result.stderr.trim() }
  }
  return { ok: false, said: 'no probe' }
}

/** Waits as a startup probe does: its period, up to its failure threshold. */
async function untilStarted(pod: string, container: Container): Promise<number> {
  const startup = container.startupProbe!
  const since = performance.now()
  let last = ''
  for (let attempt = 0; attempt < (startup.failureThreshold ?? 3) * 4; attempt++) {
    const result = await probe(pod, container, startup)
    if (result.ok) return performance.now() - since
    last = result.said
    await sleep(((startup.periodSeconds ?? 10) * 1000) / 4)
  }
  const logs = await podman(['logs', containerOf(pod, container.name)])
  logs.stdout = logs.stdout.split('\n').filter((line) => !line.includes('"path":"/health"')).slice(0, 20).join('\n')
  const names = await podman(['ps', '--all', '--format', '{{.Names}} {{.Status}}'])
  throw new Error(`${pod}: the startup probe never passed (last: ${last})\n${logs.stdout}${logs.stderr}\n${names.stdout}`)
}

t.test('when the dev overlay is played by podman, then every pod starts, passes its probes, runs restricted and serves the API', async (t) => {
  // The network namespace: loopback, and a veth to this test.
  const routes = await must('ip', ['-4', 'route', 'show'])
  const free = Array.from({ length: 254 }, (_, i) => i + 1).filter((n) => !routes.includes(`10.214.${n}.`))
  const subnet = free[id % free.length]
  if (subnet === undefined) throw new Error('no free 10.214.x.0/24')
  nsAddress.host = `10.214.${subnet}.1`
  nsAddress.pod = `10.214.${subnet}.2`
  await must('ip', ['netns', 'add', ns])
  await must('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf])
  await must('ip', ['link', 'set', nsIf, 'netns', ns])
  await must('ip', ['addr', 'add', `${nsAddress.host}/24`, 'dev', hostIf])
  await must('ip', ['link', 'set', hostIf, 'up'])
  await must('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${nsAddress.pod}/24`, 'dev', nsIf])
  await must('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up'])
  await must('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up'])

  // The Secret, as podman 4.3's kube play reads it from its secret store: the Secret's data, a JSON object
  // of base64 values. One change: REDIS_URL names the Service redis, which only a cluster's DNS resolves
  // (kube play ignores hostAliases on the host network): here Redis is on the pods' loopback.
  const data = { ...(secret.data as Record<string, string>) }
  const redisUrl = Buffer.from(data.REDIS_URL ?? '', 'base64').toString()
  data.REDIS_URL = Buffer.from(redisUrl.replace(/@redis:/, '@127.0.0.1:')).toString('base64')
  const secretFile = join(dir, 'secret.json')
  await writeFile(secretFile, JSON.stringify(data), { mode: 0o600 })
  await must('podman', [...podmanGlobal, 'secret', 'create', secretName, secretFile])
  secretMade = true
  await writeFile(secretFile, '')

  // Redis first, as its StatefulSet would be ready before the apps that wait for it; then the Job and the Deployments.
  const redisStarted = performance.now()
  await play('redis', [...configMaps, podOf('redis', redisSpec, redisSet.metadata.labels)])
  const redisContainer = redisSpec.containers[0]!
  // kube play names a Pod's pod as the Pod; its containers <pod>-<container>.
  const redisPod = 'redis'
  const redisName = `${prefix}-${redisPod}-${redisContainer.name}`
  const redisProbe = async (which: Probe | undefined) =>
    which?.exec !== undefined ? execIn(redisName, which.exec.command).then((r) => ({ ok: r.code === 0 && /PONG/.test(r.stdout), said: (r.stdout + r.stderr).trim() })) : probe(redisPod, redisContainer, which)
  let ready = { ok: false, said: '' }
  for (let attempt = 0; attempt < 60 && !ready.ok; attempt++) {
    ready = await redisProbe(redisContainer.readinessProbe)
    if (!ready.ok) await sleep(250)
  }
  if (!ready.ok) {
    const names = await podman(['ps', '--all', '--format', '{{.Names}} {{.Status}}'])
    const logs = await podman(['logs', '--tail', '30', redisName])
    throw new Error(`Redis is not ready: ${ready.said}\n${names.stdout}\n${logs.stdout}${logs.stderr}`)
  }
  t.ok(ready.ok, `Redis: the readiness probe (redis-cli ping with REDISCLI_AUTH from the Secret) answers ${ready.said}`)
  t.ok((await redisProbe(redisContainer.startupProbe)).ok, 'Redis: the startup probe (TCP) passes')
  t.ok((await redisProbe(redisContainer.livenessProbe)).ok, 'Redis: the liveness probe (TCP) passes')
  const noPassword = await execIn(redisName, ['redis-cli', 'set', 'x', 'y'], ['REDISCLI_AUTH='])
  t.match(noPassword.stdout + noPassword.stderr, /NOAUTH/, 'Redis refuses a client without the password')
  const config = await execIn(redisName, ['redis-cli', 'config', 'get', '*'])
  const settings = new Map<string, string>()
  const lines = config.stdout.split('\n')
  for (let i = 0; i + 1 < lines.length; i += 2) settings.set(lines[i]!, lines[i + 1]!)
  t.equal(settings.get('appendonly'), 'yes', 'Redis: AOF on')
  t.equal(settings.get('maxmemory-policy'), 'noeviction', 'Redis: noeviction')
  t.equal(settings.get('maxmemory'), String(256 * 1024 * 1024), 'Redis: maxmemory 256mb')
  t.equal(settings.get('dir'), '/data', 'Redis: its data on the claim')
  const redisMs = performance.now() - redisStarted

  const appsStarted = performance.now()
  const jobSpec = forPodman(job)
  jobSpec.restartPolicy = 'OnFailure'
  await play('apps', [
    ...configMaps,
    podOf('seed-users', jobSpec, job.metadata.labels),
    ...deployments.map((d) => ({ ...d, metadata: { ...d.metadata, name: `${prefix}-${d.metadata.name}` }, spec: { ...(d.spec as object), replicas: 1, template: { ...(d.spec as { template: object }).template, spec: appSpecs.get(d.metadata.name) } } })),
  ])
  const startup: string[] = []
  for (const app of apps) {
    const container = appSpecs.get(app)!.containers[0]!
    startup.push(`${app}=${seconds(await untilStarted(app, container))}s`)
    for (const which of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      const result = await probe(app, container, container[which])
      t.ok(result.ok, `${app}: the ${which} (GET ${container[which]?.httpGet?.path} on port ${String(container[which]?.httpGet?.port)}) answers ${result.said}`)
    }
  }
  const appsMs = performance.now() - appsStarted
  t.pass(`every app passed its startup probe: ${startup.join(' ')}`)

  // The Job's pod loaded the users and exited 0.
  const seedName = `${prefix}-seed-users-seed-users`
  let seedState = ''
  for (let attempt = 0; attempt < 120; attempt++) {
    seedState = (await podman(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', seedName])).stdout.trim()
    if (seedState === 'exited 0') break
    await sleep(250)
  }
  t.equal(seedState, 'exited 0', 'the seed-users Job\'s pod ran to completion')
  t.match((await podman(['logs', seedName])).stdout, /alice \(id \d+\): (created|updated|ok)/, 'and loaded alice')

  // What the pod specs ask, in force in the running processes.
  for (const app of apps) {
    const name = containerOf(app, app)
    const inspect = JSON.parse((await must('podman', [...podmanGlobal, 'inspect', name])).trim()) as [{ State: { Pid: number }; HostConfig: { ReadonlyRootfs: boolean }; Config: { Env: string[] } }]
    const pid = inspect[0].State.Pid
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim().split(' ').filter((c) => c !== '')
    const service = children[0] ?? String(pid)
    const status = await readFile(`/proc/${service}/status`, 'utf8')
    const field = (key: string): string => new RegExp(`^${key}:\\s+(.+)$`, 'm').exec(status)?.[1]?.trim() ?? ''
    t.equal(field('Uid').split(/\s+/)[0], '10001', `${app}: runs as 10001`)
    t.equal(field('CapEff'), '0000000000000000', `${app}: no capability`)
    t.equal(field('NoNewPrivs'), '1', `${app}: no privilege escalation (no_new_privs)`)
    t.equal(field('Seccomp'), '2', `${app}: under a seccomp filter`)
    t.equal(inspect[0].HostConfig.ReadonlyRootfs, true, `${app}: a read-only root`)
    const env = new Map(inspect[0].Config.Env.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))
    t.equal(env.get('LOG_LEVEL'), 'debug', `${app}: a setting from the overlay's ConfigMap`)
    t.equal(env.get('HTTP_PORT'), String(appSpecs.get(app)!.containers[0]!.ports![0]!.containerPort), `${app}: HTTP_PORT`)
    t.match(env.get('REDIS_URL') ?? '', /^redis:\/\/:[0-9a-f]{64}@127\.0\.0\.1:6379\/0$/, `${app}: REDIS_URL from the Secret`)
  }

  // The API flow, on the pods (a router needs a cluster: the routes are checked offline, by manifests.test.ts).
  const port = (app: string): number => appSpecs.get(app)!.containers[0]!.ports![0]!.containerPort
  const login = await request(url(port('auth'), '/token'), { method: 'POST', body: { username: 'alice', password: 'password' } })
  t.equal(login.status, 200, 'alice gets a token from the auth pod')
  const token = (login.json as { token: string }).token
  const posted = await request(url(port('transactions'), '/transactions'), { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: { amount: 2000, currency: 'GBP' } })
  t.equal(posted.status, 202, `the transactions pod queues a transaction: ${posted.text.slice(0, 200)}`)
  const transactionId = (posted.json as { id: string }).id
  let record: { status?: string } = {}
  for (let attempt = 0; attempt < 100 && record.status !== 'completed'; attempt++) {
    await sleep(100)
    record = (await request(url(port('transactions'), `/transactions/${transactionId}`), { headers: { authorization: `Bearer ${token}` } })).json as typeof record
  }
  t.equal(record.status, 'completed', 'the loyalty pod processes it')
  const me = await request(url(port('loyalty'), '/me'), { headers: { authorization: `Bearer ${token}` } })
  t.equal(me.status, 200, 'the loyalty pod answers /me')
  t.ok(((me.json as { stamps?: number; vouchers_total?: number }).stamps ?? 0) + ((me.json as { vouchers_total?: number }).vouchers_total ?? 0) >= 1, 'with the stamp')
  const dashboardPassword = /^QUEUE_DASHBOARD_PASSWORD=(.+)$/m.exec(secretsEnv)?.[1] ?? ''
  const stats = await request(url(port('dashboard'), '/stats'), { headers: { accept: 'application/json', authorization: `Basic ${Buffer.from(`admin:${dashboardPassword}`).toString('base64')}` } })
  t.equal(stats.status, 200, 'the dashboard pod answers with the Secret\'s password')

  // The append-only file, on the claim (Redis 7: appendonlydir/), owned by Redis's user.
  const aof = await run('find', [redisData, '-name', '*.aof', '-size', '+0c'])
  t.match(aof.stdout, /appendonlydir\/.+\.incr\.aof/, 'Redis writes its append-only file on the claim')

  // A pod stopped within its grace: SIGTERM, in-flight work finished, exit 0 (kube play does not take the
  // grace from the spec: it is passed here as the kubelet would).
  const grace = appSpecs.get('transactions')!.terminationGracePeriodSeconds ?? 30
  const stopStarted = performance.now()
  await must('podman', [...podmanGlobal, 'pod', 'stop', '--time', String(grace), `${prefix}-transactions-pod-0`], { timeoutMs: (grace + 30) * 1000 })
  const stopMs = performance.now() - stopStarted
  const exit = (await podman(['inspect', '--format', '{{.State.ExitCode}}', containerOf('transactions', 'transactions')])).stdout.trim()
  t.equal(exit, '0', `the transactions pod exits 0 on SIGTERM, in ${seconds(stopMs)} s (grace ${grace} s)`)
  t.ok(stopMs < grace * 1000, 'before the grace is over')

  t.comment(`figures kubernetes-play: redis_ready_s=${seconds(redisMs)} apps_ready_s=${seconds(appsMs)} startup=${startup.join(',')} stop_s=${seconds(stopMs)} total_s=${seconds(performance.now() - started)}`)
})
