// The Kubernetes manifests (deploy/kubernetes/, rendered from platform.json by deploy/kubernetes/render.ts),
// offline: no API server can run here. Every object is checked against the Kubernetes OpenAPI schemas (and
// for fields they do not know), each overlay is built as `kubectl kustomize` would (test/helpers/kustomize.ts),
// and the built objects are held to the platform's rules: probes on the manifest's health paths, requests
// and memory limits, non-root and read-only, pinned images, selectors that select, references that resolve,
// ports equal to the manifest's, and the routes equal to the nginx router's.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import {
  configMapSettingsOf,
  httpRoutesOf,
  ingressesOf,
  kubernetesDir,
  kubernetesFiles,
  PRE_STOP_SECONDS,
  redisClientLabel,
  scaledAppsOf,
  secretKeysOf,
  terminationGraceOf,
} from '../../deploy/kubernetes/render.ts'
import { routesOf, type ServiceRoute, isStaticRoute } from '../../nginx/routes.ts'
import { appNamesOf, defaultPortOf, platform, type PlatformManifest, settingsOf } from '../../services/shared/platform.ts'
import { type K8sObject, kustomizeBuild, podSpecsOf, readObjects } from '../helpers/kustomize.ts'
import { schemaProblems, unknownFields } from '../helpers/kubernetes-schemas.ts'

const repoRoot = join(import.meta.dirname, '..', '..')
const root = join(repoRoot, kubernetesDir)
const apps = appNamesOf(platform)
const shutdownMs = Number(platform.settings.SHUTDOWN_TIMEOUT_MS!.default)

/** What a user's secrets.env holds (README): every key the Secret must have, made-up values. */
const secretsEnv = secretKeysOf(platform).map((key) => `${key}=${key === 'REDIS_URL' ? 'redis://:pw@redis:6379/0' : 'x'.repeat(48)}`).join('\n') + '\n'
const stubFiles = (overlay: string): Record<string, string> => ({ [join(root, 'overlays', overlay, 'secrets.env')]: secretsEnv })

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return yamlFiles(path)
    return name.endsWith('.yaml') ? [path] : []
  })
}

interface Container {
  name: string
  image: string
  args?: string[]
  ports?: { name?: string; containerPort: number }[]
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string; optional?: boolean } } }[]
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { memory?: string; cpu?: string } }
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; capabilities?: { drop?: string[]; add?: string[] }; privileged?: boolean }
  readinessProbe?: Probe
  livenessProbe?: Probe
  startupProbe?: Probe
  lifecycle?: { preStop?: { sleep?: { seconds: number } } }
}
interface Probe {
  httpGet?: { path: string; port: string | number }
  tcpSocket?: { port: string | number }
  exec?: { command: string[] }
}
interface PodSpec {
  containers: Container[]
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } }
  terminationGracePeriodSeconds?: number
  hostNetwork?: boolean
  automountServiceAccountToken?: boolean
}
const spec = <T>(object: K8sObject): T => object.spec as T
const byKind = (objects: K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind)
const named = (objects: K8sObject[], kind: string, name: string): K8sObject | undefined => objects.find((o) => o.kind === kind && o.metadata.name === name)
const templateLabels = (object: K8sObject): Record<string, string> => (object.spec as { template: { metadata: { labels: Record<string, string> } } }).template.metadata.labels
const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(selector).every(([key, value]) => labels[key] === value)

t.test('when the files under deploy/kubernetes/ are read, then every object is valid against its schema and has no unknown field', async (t) => {
  const files = yamlFiles(root)
  t.ok(files.length >= 15, `${files.length} YAML files`)
  for (const file of files) {
    const where = relative(repoRoot, file)
    for (const object of readObjects(file)) {
      if (object.kind === 'Kustomization') continue
      t.same(schemaProblems(object), [], `${where}: ${object.kind}/${object.metadata?.name} is valid`)
      t.same(unknownFields(object), [], `${where}: ${object.kind}/${object.metadata?.name} has no field its schema does not know`)
      t.not(object.kind, 'Secret', `${where}: no Secret is kept in the repository`)
    }
  }
  // The generator's output is the files (the staleness test says the same from the other side).
  t.same(kubernetesFiles(platform, (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version).map((f) => f.path).sort(), files.map((f) => relative(repoRoot, f)).sort(), 'every file is rendered, and only those')
  // A user's secrets.env is never committed.
  const ignored = execFileSync('git', ['check-ignore', '--no-index', join(kubernetesDir, 'overlays', 'dev', 'secrets.env'), join(kubernetesDir, 'overlays', 'production', 'secrets.env')], { cwd: repoRoot, encoding: 'utf8' })
  t.equal(ignored.trim().split('\n').length, 2, 'secrets.env is ignored by git in both overlays')
})

const overlays = {
  dev: () => kustomizeBuild(join(root, 'overlays', 'dev'), stubFiles('dev')),
  production: () => kustomizeBuild(join(root, 'overlays', 'production'), stubFiles('production')),
}

for (const [overlay, build] of Object.entries(overlays)) {
  t.test(`when the ${overlay} overlay is built, then it holds to the platform's rules`, async (t) => {
    const objects = build()
    const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`)
    t.equal(new Set(ids).size, ids.length, 'no object twice')
    for (const object of objects) {
      t.same(schemaProblems(object), [], `${object.kind}/${object.metadata.name} is valid after the overlay`)
      if (object.kind !== 'Namespace') t.equal(object.metadata.namespace, 'yoyo', `${object.kind}/${object.metadata.name} is in namespace yoyo`)
    }
    const namespace = named(objects, 'Namespace', 'yoyo')
    t.equal(namespace?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted', 'the namespace enforces the restricted Pod Security Standard')

    const secret = byKind(objects, 'Secret')
    t.equal(secret.length, 1, 'one Secret, from the secretGenerator')
    const secretData = (secret[0]?.data ?? {}) as Record<string, string>
    t.same(Object.keys(secretData).sort(), secretKeysOf(platform).sort(), 'the Secret has every secret setting of platform.json and Redis\'s password')
    const configMaps = new Map(byKind(objects, 'ConfigMap').map((c) => [c.metadata.name, (c.data ?? {}) as Record<string, string>]))

    const workloads = objects.filter((o) => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind))
    for (const workload of workloads) {
      const at = `${workload.kind}/${workload.metadata.name}`
      const pod = podSpecsOf(workload)[0] as unknown as PodSpec
      t.equal(pod.securityContext?.runAsNonRoot, true, `${at}: runAsNonRoot`)
      t.ok((pod.securityContext?.runAsUser ?? 0) > 0, `${at}: a non-root uid`)
      t.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${at}: seccomp RuntimeDefault`)
      t.notOk(pod.hostNetwork, `${at}: not on the node's network`)
      t.equal(pod.automountServiceAccountToken, false, `${at}: no API token mounted (nothing here talks to the API server)`)
      for (const container of pod.containers) {
        const c = `${at} ${container.name}`
        t.match(container.image, /^[^@]+:(?!latest$)[\w.-]+(@sha256:[0-9a-f]{64})?$/, `${c}: image pinned to a tag (${container.image})`)
        t.equal(container.securityContext?.allowPrivilegeEscalation, false, `${c}: no privilege escalation`)
        t.equal(container.securityContext?.readOnlyRootFilesystem, true, `${c}: read-only root`)
        t.same(container.securityContext?.capabilities?.drop, ['ALL'], `${c}: every capability dropped`)
        t.notOk(container.securityContext?.capabilities?.add, `${c}: none added`)
        t.ok(container.resources?.requests?.cpu && container.resources.requests.memory, `${c}: CPU and memory requests`)
        t.ok(container.resources?.limits?.memory, `${c}: a memory limit`)
        for (const env of container.env ?? []) {
          const secretRef = env.valueFrom?.secretKeyRef
          if (secretRef !== undefined) {
            t.equal(secretRef.name, secret[0]?.metadata.name, `${c}: ${env.name} comes from the generated Secret`)
            t.ok(secretRef.key in secretData, `${c}: ${env.name}: the Secret has ${secretRef.key}`)
          }
          const configRef = env.valueFrom?.configMapKeyRef
          if (configRef !== undefined) t.ok(configRef.key in (configMaps.get(configRef.name) ?? {}), `${c}: ${env.name}: ConfigMap ${configRef.name} has ${configRef.key}`)
        }
        if (workload.kind === 'Job') continue
        for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) t.ok(container[probe], `${c}: a ${probe}`)
        // A probe's named port is a port of the container.
        for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
          const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port
          if (typeof port === 'string') t.ok(container.ports?.some((p) => p.name === port), `${c}: probe port ${port} is a container port`)
        }
      }
      if (workload.kind !== 'Job') {
        const selector = (workload.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels
        t.ok(selects(selector, templateLabels(workload)), `${at}: its selector selects its pods' labels`)
      }
    }

    // Each app: its Deployment runs the image with the app's name, on the manifest's port, with every setting it reads.
    for (const app of apps) {
      const deployment = named(objects, 'Deployment', app)
      if (deployment === undefined) {
        t.fail(`no Deployment ${app}`)
        continue
      }
      const pod = podSpecsOf(deployment)[0] as unknown as PodSpec
      const container = pod.containers[0]!
      t.same(container.args, [app], `${app}: the image's command names the app`)
      t.equal(container.ports?.[0]?.containerPort, defaultPortOf(platform, app), `${app}: listens on the manifest's port`)
      const env = new Map((container.env ?? []).map((e) => [e.name, e]))
      t.equal(env.get('HTTP_PORT')?.value, String(defaultPortOf(platform, app)), `${app}: HTTP_PORT is its port`)
      t.equal(env.get('HTTP_HOST')?.value, '0.0.0.0', `${app}: listens on the pod's address`)
      for (const [name, setting] of Object.entries(settingsOf(platform, app))) {
        t.ok(env.has(name), `${app}: reads ${name}`)
        if (name !== 'HTTP_HOST') t.equal(env.get(name)?.valueFrom?.[setting.secret === true ? 'secretKeyRef' : 'configMapKeyRef']?.key, name, `${app}: ${name} from the ${setting.secret === true ? 'Secret' : 'ConfigMap'}`)
      }
      for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) {
        t.equal(probe?.httpGet?.path, platform.apps[app]!.health, `${app}: probes GET the manifest's health path`)
      }
      const grace = pod.terminationGracePeriodSeconds ?? 30
      const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0
      t.ok(grace * 1000 >= preStop * 1000 + shutdownMs + 1000, `${app}: a grace of ${grace} s covers the preStop pause (${preStop} s) and SHUTDOWN_TIMEOUT_MS (${shutdownMs} ms)`)
      t.equal(templateLabels(deployment)[redisClientLabel], 'true', `${app}: its pods may reach Redis`)

      const service = named(objects, 'Service', app)
      const port = (service?.spec as { ports: { port: number; targetPort: string | number }[] } | undefined)?.ports[0]
      t.equal(port?.port, defaultPortOf(platform, app), `${app}: its Service's port is the manifest's`)
      t.ok(container.ports?.some((p) => p.name === port?.targetPort || p.containerPort === port?.targetPort), `${app}: the Service's targetPort is a port of the container`)
      t.ok(selects(spec<{ selector: Record<string, string> }>(service!).selector, templateLabels(deployment)), `${app}: its Service selects its pods`)
      const budget = named(objects, 'PodDisruptionBudget', app)
      t.ok(budget && selects(spec<{ selector: { matchLabels: Record<string, string> } }>(budget).selector.matchLabels, templateLabels(deployment)), `${app}: a PodDisruptionBudget selects its pods`)
    }
    // Every Service selects some pod.
    for (const service of byKind(objects, 'Service')) {
      const selector = spec<{ selector: Record<string, string> }>(service).selector
      t.ok(workloads.some((w) => w.kind !== 'Job' && selects(selector, templateLabels(w))), `Service/${service.metadata.name} selects pods`)
    }

    // Redis: persistent, AOF, noeviction, the password from the Secret, only the apps (and the seed Job) let in.
    const redis = named(objects, 'StatefulSet', 'redis')
    t.ok(redis, 'Redis is a StatefulSet')
    const redisSpec = spec<{ volumeClaimTemplates?: { metadata: { name: string } }[]; template: { spec: PodSpec & { volumes?: { configMap?: { name: string } }[] } } }>(redis!)
    t.equal(redisSpec.volumeClaimTemplates?.[0]?.metadata.name, 'data', 'with a PersistentVolumeClaim for /data')
    const redisContainer = redisSpec.template.spec.containers[0]!
    t.match((redisContainer as unknown as { command: string[] }).command.join(' '), /--requirepass \$\(REDIS_PASSWORD\)/, 'its password from the environment, from the Secret')
    t.equal(redisContainer.env?.find((e) => e.name === 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef?.key, 'REDIS_PASSWORD')
    const redisConf = configMaps.get('redis-config')?.['redis.conf'] ?? ''
    for (const line of ['appendonly yes', 'appendfsync everysec', 'maxmemory-policy noeviction', `maxmemory ${String(platform.settings.REDIS_MAXMEMORY!.default)}`, 'dir /data']) {
      t.match(redisConf, new RegExp(`^${line}$`, 'm'), `redis.conf: ${line}`)
    }
    t.notMatch(redisConf, /^requirepass/m, 'no password in the ConfigMap')

    const policies = byKind(objects, 'NetworkPolicy')
    const policy = (name: string) => spec<{ podSelector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; values: string[] }[] }; ingress?: { from: { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[] }>(named(policies, 'NetworkPolicy', name)!)
    t.same(policy('default-deny-ingress').podSelector, {}, 'every pod: no ingress unless allowed')
    t.same(policy('default-deny-ingress').ingress, undefined)
    const redisPolicy = policy('redis')
    t.ok(selects(redisPolicy.podSelector.matchLabels ?? {}, templateLabels(redis!)), 'the Redis policy selects the Redis pod')
    const redisClients = redisPolicy.ingress?.[0]?.from[0]?.podSelector?.matchLabels ?? {}
    const clients = workloads.filter((w) => selects(redisClients, templateLabels(w))).map((w) => w.metadata.name).sort()
    t.same(clients, [...apps, ...(overlay === 'dev' ? ['seed-users'] : [])].sort(), `only the apps reach Redis: ${clients.join(', ')}`)
    t.same(redisPolicy.ingress?.[0]?.ports.map((p) => p.port), [6379])
    const router = policy('from-router')
    t.same(router.podSelector.matchExpressions?.[0]?.values, apps, 'the router policy covers every app')
    t.same(router.ingress?.[0]?.ports.map((p) => p.port).sort(), apps.map((app) => defaultPortOf(platform, app)).sort(), 'on their ports only')
    t.ok(router.ingress?.[0]?.from.every((from) => from.namespaceSelector !== undefined && from.podSelector === undefined), 'from the router\'s namespace')

    // The routes: every backend is a Service of this overlay on its port; every route hangs on the Gateway.
    const gateways = byKind(objects, 'Gateway').map((g) => g.metadata.name)
    for (const route of byKind(objects, 'HTTPRoute')) {
      const routeSpec = spec<{ parentRefs: { name: string }[]; rules: { backendRefs: { name: string; port: number }[] }[] }>(route)
      t.ok(routeSpec.parentRefs.every((p) => gateways.includes(p.name)), `HTTPRoute/${route.metadata.name} is attached to a Gateway of the overlay`)
      for (const backend of routeSpec.rules.flatMap((rule) => rule.backendRefs)) {
        const service = named(objects, 'Service', backend.name)
        t.ok(service, `HTTPRoute/${route.metadata.name}: Service ${backend.name} exists`)
        t.ok((service?.spec as { ports: { port: number }[] } | undefined)?.ports.some((p) => p.port === backend.port), `HTTPRoute/${route.metadata.name}: ${backend.name} has port ${backend.port}`)
      }
    }

    if (overlay === 'production') {
      for (const app of scaledAppsOf(platform)) {
        const hpa = named(objects, 'HorizontalPodAutoscaler', app)
        t.equal((hpa?.spec as { scaleTargetRef: { name: string } } | undefined)?.scaleTargetRef.name, app, `${app}: autoscaled`)
        t.equal((named(objects, 'Deployment', app)!.spec as { replicas?: number }).replicas, undefined, `${app}: the autoscaler owns its replica count (an apply does not reset it)`)
      }
    } else {
      for (const app of apps) {
        const instances = platform.apps[app]!.process.instances
        const expected = typeof instances === 'number' ? instances : Number(platform.settings[instances]!.default)
        t.equal((named(objects, 'Deployment', app)!.spec as { replicas?: number }).replicas, expected, `${app}: ${expected} replica(s), as PM2 runs it on the VM`)
      }
      t.equal(byKind(objects, 'HorizontalPodAutoscaler').length, 0, 'no autoscaler: kubectl scale is pm2 scale')
      t.equal(configMaps.get('yoyo-settings')?.LOG_LEVEL, 'debug', 'the overlay\'s own setting (a patch of the ConfigMap)')
    }
  })
}

t.test('when the ingress-nginx router is built with the base, then its backends exist and the token path is rate limited', async (t) => {
  const objects = [...kustomizeBuild(join(root, 'base')), ...kustomizeBuild(join(root, 'ingress-nginx'))]
  for (const object of objects) t.same(schemaProblems(object), [], `${object.kind}/${object.metadata.name} is valid`)
  for (const ingress of byKind(objects, 'Ingress')) {
    const paths = spec<{ rules: { http: { paths: { backend: { service: { name: string; port: { number: number } } } }[] } }[] }>(ingress).rules.flatMap((r) => r.http.paths)
    for (const { backend } of paths) {
      const service = named(objects, 'Service', backend.service.name)
      t.ok((service?.spec as { ports: { port: number }[] } | undefined)?.ports.some((p) => p.port === backend.service.port.number), `Ingress/${ingress.metadata.name}: Service ${backend.service.name}:${backend.service.port.number} exists`)
    }
  }
  const policy = named(objects, 'NetworkPolicy', 'from-router')?.spec as { ingress: { from: { namespaceSelector: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[] } | undefined
  t.same(policy?.ingress[0]?.from[0]?.namespaceSelector.matchLabels, { 'kubernetes.io/metadata.name': 'ingress-nginx' }, 'only ingress-nginx\'s namespace reaches the apps')
  t.same(policy?.ingress[0]?.ports.map((p) => p.port).sort(), apps.map((app) => defaultPortOf(platform, app)).sort(), 'on their ports')
  t.ok(byKind(objects, 'Ingress').every((i) => (i.spec as { ingressClassName?: string }).ingressClassName === 'nginx'), 'every Ingress names the class nginx')
  const token = named(objects, 'Ingress', 'auth-token')
  t.equal(token?.metadata.annotations?.['nginx.ingress.kubernetes.io/limit-rps'], '10', 'the token path: 10 requests/s per client address')
  t.equal(token?.metadata.annotations?.['nginx.ingress.kubernetes.io/limit-burst-multiplier'], '2', 'bursts of 20, as nginx/routes.ts says')
})

// --- The routes, equal to the nginx router's ----------------------------------------------------------------
/** Where nginx (nginx/render.ts) sends a path: the service and the path it sees, or undefined (404). */
function nginxRoute(routes: ServiceRoute[], path: string): { service: string; path: string } | undefined {
  for (const route of routes) {
    for (const limited of route.rateLimited ?? []) {
      if (new RegExp(`^${route.prefix}${limited}/?$`, 'i').test(path)) return { service: route.service, path: limited }
    }
  }
  for (const route of routes) {
    if (route.passThroughExcept !== undefined) {
      for (const own of route.passThroughExcept) {
        if (path === `${route.prefix}${own}` || path.startsWith(`${route.prefix}${own}/`)) return { service: route.service, path: own + path.slice(route.prefix.length + own.length) }
      }
      if (path === route.prefix || path.startsWith(`${route.prefix}/`)) return { service: route.service, path }
    } else if (path.startsWith(`${route.prefix}/`)) return { service: route.service, path: path.slice(route.prefix.length) }
  }
  return undefined
}

/** Gateway API's HTTPRoute matching: the longest PathPrefix (whole segments) wins, across every route; then its filter. */
function gatewayRoute(routes: object[], path: string): { service: string; path: string } | undefined {
  let best: { length: number; service: string; path: string } | undefined
  for (const route of routes as { spec: { rules: { matches: { path: { type: string; value: string } }[]; filters?: { urlRewrite: { path: { replacePrefixMatch: string } } }[]; backendRefs: { name: string }[] }[] } }[]) {
    for (const rule of route.spec.rules) {
      for (const match of rule.matches) {
        const prefix = match.path.value
        if (match.path.type !== 'PathPrefix' || !(path === prefix || path.startsWith(`${prefix}/`))) continue
        if (best !== undefined && best.length >= prefix.length) continue
        const replace = rule.filters?.[0]?.urlRewrite.path.replacePrefixMatch
        const rest = path.slice(prefix.length)
        const rewritten = replace === undefined ? path : replace === '/' ? rest.length === 0 ? '/' : rest : replace + rest
        best = { length: prefix.length, service: rule.backendRefs[0]!.name, path: rewritten }
      }
    }
  }
  return best === undefined ? undefined : { service: best.service, path: best.path }
}

/** ingress-nginx with use-regex: case-insensitive regex locations anchored at the start, longest first, then rewrite-target. */
function ingressNginxRoute(ingresses: object[], path: string): { service: string; path: string; limited: boolean } | undefined {
  const locations = (ingresses as { metadata: { annotations: Record<string, string> }; spec: { rules: { http: { paths: { path: string; backend: { service: { name: string } } }[] } }[] } }[]).flatMap((ingress) =>
    ingress.spec.rules.flatMap((rule) => rule.http.paths.map((p) => ({ regex: p.path, service: p.backend.service.name, annotations: ingress.metadata.annotations }))),
  )
  locations.sort((a, b) => b.regex.length - a.regex.length)
  for (const location of locations) {
    const regex = new RegExp(`^${location.regex}`, 'i')
    const match = regex.exec(path)
    if (match === null) continue
    const target = location.annotations['nginx.ingress.kubernetes.io/rewrite-target']
    return {
      service: location.service,
      path: target === undefined ? path : target.replace(/\$(\d)/g, (_, n: string) => match[Number(n)] ?? ''),
      limited: 'nginx.ingress.kubernetes.io/limit-rps' in location.annotations,
    }
  }
  return undefined
}

const samplePaths = (manifest: PlatformManifest): string[] => {
  const routes = routesOf(manifest).filter((r): r is ServiceRoute => !isStaticRoute(r))
  return [
    '/', '/nothing', '/authenticationx/token',
    ...routes.flatMap((route) => [
      `${route.prefix}/`, `${route.prefix}/health`, `${route.prefix}/me`, `${route.prefix}/a/b?c=d`.replace(/\?.*$/, ''), `${route.prefix}x`,
      ...(route.rateLimited ?? []).flatMap((p) => [`${route.prefix}${p}`, `${route.prefix}${p}/`]),
      ...(route.passThroughExcept ?? []).flatMap((p) => [`${route.prefix}${p}`, `${route.prefix}${p}/x`]),
      ...(route.passThroughExcept !== undefined ? [route.prefix, `${route.prefix}/0b0e0c3a-1`] : []),
    ]),
  ]
}

t.test('when a path is routed by the HTTPRoutes and by the Ingresses, then it reaches the service and path that nginx sends it to', async (t) => {
  const routes = routesOf(platform).filter((r): r is ServiceRoute => !isStaticRoute(r))
  const http = httpRoutesOf(platform)
  const ingresses = ingressesOf(platform)
  for (const path of samplePaths(platform)) {
    const expected = nginxRoute(routes, path)
    // nginx rewrites <prefix>/token/ to /token, ReplacePrefixMatch to /token/: the same route to Express
    // (non-strict routing: a trailing slash makes no difference).
    const viaGateway = gatewayRoute(http, path)
    if (viaGateway !== undefined && expected !== undefined && viaGateway.path === `${expected.path}/`) viaGateway.path = expected.path
    t.same(viaGateway, expected, `HTTPRoute: ${path} → ${expected === undefined ? '404' : `${expected.service} ${expected.path}`}`)
    const viaIngress = ingressNginxRoute(ingresses, path)
    t.same(viaIngress === undefined ? undefined : { service: viaIngress.service, path: viaIngress.path }, expected, `Ingress: ${path} → ${expected === undefined ? '404' : `${expected.service} ${expected.path}`}`)
  }
  // The rate-limited path, in any case and with a trailing slash, is limited through ingress-nginx as through nginx.
  for (const route of routes) {
    for (const limited of route.rateLimited ?? []) {
      for (const path of [`${route.prefix}${limited}`, `${route.prefix}${limited}/`, `${route.prefix}${limited}`.toUpperCase()]) {
        t.equal(ingressNginxRoute(ingresses, path)?.limited, true, `Ingress: ${path} is rate limited`)
      }
      t.ok(http.some((r) => (r as { metadata: { name: string; labels: Record<string, string> } }).metadata.labels['yoyo-platform/rate-limited'] === 'true'), 'HTTPRoute: the token path has a route of its own, for the implementation\'s rate limit policy')
    }
  }
})

t.test('when an object has a misspelt or misplaced field, then unknownFields names it', async (t) => {
  const deployment = readObjects(join(root, 'base', `${apps[0]}.yaml`))[0]!
  const broken = structuredClone(deployment) as K8sObject & { spec: { template: { spec: { containers: Record<string, unknown>[] } } } }
  broken.spec.template.spec.containers[0]!.readinesProbe = { httpGet: { path: '/health', port: 'http' } }
  ;(broken.spec as Record<string, unknown>).terminationGracePeriodSeconds = 30
  t.same(schemaProblems(broken), [], 'the schema alone lets both through')
  t.same(unknownFields(broken).sort(), ['/spec/template/spec/containers/0/readinesProbe', '/spec/terminationGracePeriodSeconds'])
})

t.test('when the manifest has a fifth app, then the renderer gives it a Deployment, a Service, routes, a budget and the policies', async (t) => {
  const copy = structuredClone(platform) as PlatformManifest
  copy.apps.reports = { title: 'Reports API', source: 'services/reports-api', port: 'REPORTS_PORT', route: { prefix: '/reports' }, health: '/health', process: { mode: 'cluster', instances: 1 } }
  copy.settings.REPORTS_PORT = { scope: 'machine', type: 'integer', minimum: 1, maximum: 65535, default: 5004, about: 'the Reports API HTTP port' }
  copy.settings.REPORTS_PAGE = { scope: 'service', apps: ['reports'], type: 'integer', default: 50, about: 'rows per page' }
  const files = new Map(kubernetesFiles(copy, '9.9.9').map((f) => [f.path, f.content]))
  const objects = readObjectsOf(files.get(`${kubernetesDir}/base/reports.yaml`))
  t.same(objects.map((o) => `${o.kind}/${o.metadata.name}`), ['Deployment/reports', 'Service/reports'])
  t.match(files.get(`${kubernetesDir}/base/reports.yaml`), /image: yoyo-platform:9\.9\.9/)
  t.match(files.get(`${kubernetesDir}/base/reports.yaml`), /containerPort: 5004/)
  t.match(files.get(`${kubernetesDir}/base/kustomization.yaml`), /- reports\.yaml/)
  t.match(files.get(`${kubernetesDir}/gateway-api/routes.yaml`), /value: \/reports\n/)
  t.match(files.get(`${kubernetesDir}/base/pod-disruption-budgets.yaml`), /name: reports/)
  t.match(files.get(`${kubernetesDir}/gateway-api/network-policy.yaml`), /- reports\n[\s\S]*port: 5004/)
  t.equal(configMapSettingsOf(copy).REPORTS_PAGE, '50', 'its setting is in the ConfigMap')
  t.equal(terminationGraceOf(copy), PRE_STOP_SECONDS + shutdownMs / 1000 + 2)
})

function readObjectsOf(text: string | undefined): K8sObject[] {
  return (text ?? '').split(/^---$/m).map((doc) => parse(doc) as K8sObject | null).filter((o): o is K8sObject => o !== null)
}

