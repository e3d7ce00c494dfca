import {
  isStaticRoute,
  maxBodySize,
  type Route,
  routes as defaultRoutes,
  type ServiceName,
  type ServiceRoute,
  type StaticRoute,
  type StaticSite,
  tokenRateLimit,
} from './routes.ts'
import { docsCsp } from './docs-site.ts'

export interface RouterOptions {
  /** What `listen` takes: a port (80) or address:port ('127.0.0.1:8080'). */
  listen: number | string
  /**
   * host:port of each service. A route to a service without one is left out: a test stack may run only
   * some of the services (the provisioner gives every one).
   */
  upstreams: Partial<Record<ServiceName, string>>
  /** The directory of each static site (e.g. docs: /var/www/yoyo-platform/docs); a site without one is left out. */
  staticRoots?: Partial<Record<StaticSite, string>>
  /** Access log path, or 'off'. */
  accessLog: string
  routes?: Route[]
  rateLimit?: { ratePerSecond: number; burst: number }
}

// JSON bodies for the errors nginx itself answers; the services answer their own errors in JSON too,
// and we never intercept those (no proxy_intercept_errors).
// 400 covers what nginx refuses before any route: a malformed request line or header, a %-escape it
// cannot decode, a path escaping the root. 494 is nginx's own code for headers over its buffers, sent
// to the client as 431.
const nginxErrors: Record<number, string> = {
  400: 'Bad request: nginx could not parse it',
  404: 'Not found',
  405: 'Method not allowed',
  413: `Request body is larger than ${maxBodySize}B`,
  414: 'Request URI is too long',
  429: 'Too many requests, slow down',
  431: 'Request headers are too large',
  502: 'Service unavailable (bad gateway)',
  503: 'Service unavailable',
  504: 'Service did not answer in time',
}

const upstreamName = (service: ServiceName) => `yoyo_${service}`

// Same rule as the services (services/shared/http.ts): an incoming id is kept only if short and plain.
const requestIdMap = `map $http_x_request_id $yoyo_request_id {
    default $request_id;
    "~^[\\w.:-]{1,128}$" $http_x_request_id;
}`

/** Headers every answer carries, errors included; repeated wherever a location sets its own add_header. */
const requestIdHeader = 'add_header X-Request-Id $yoyo_request_id always;'

function regexEscape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

// Types of the static sites' files, inside their location: independent of the machine's mime.types
// (a browser applies a stylesheet only when it comes as text/css).
const staticTypes = 'types { text/html html; text/css css; application/javascript js; application/json json; image/png png; }'

/** The browser-facing headers of a static site's answers: its CSP, no framing, no sniffing, no referrer off-site. */
function pageHeaders(site: StaticSite): string {
  const csp = { docs: docsCsp }[site]
  return [
    `add_header Content-Security-Policy "${csp}" always;`,
    'add_header X-Frame-Options DENY always;',
    'add_header X-Content-Type-Options nosniff always;',
    'add_header Referrer-Policy same-origin always;',
  ].join('\n        ')
}

/**
 * A static site: `<prefix>` redirects to `<prefix>/`, which serves index.html; a missing file is the JSON 404.
 * The docs site also gives the platform its /favicon.ico (browsers ask for it on every page, the queue
 * dashboard's included, which has none).
 */
function staticLocations(route: StaticRoute, root: string): string[] {
  const base = root.replace(/\/+$/, '')
  const favicon = route.site === 'docs'
    ? [`# /favicon.ico → the docs' icon
    location = /favicon.ico {
        alias ${base}/favicon-32x32.png;
        types { }
        default_type image/png;
        add_header Cache-Control "max-age=86400" always;
        ${requestIdHeader}
    }`]
    : []
  return [...favicon, `# ${route.prefix}/ → the static files of ${root}
    location = ${route.prefix} {
        return 301 ${route.prefix}/;
    }
    location ${route.prefix}/ {
        alias ${base}/;
        index index.html;
        ${staticTypes}
        default_type application/octet-stream;
        # A new release publishes new files under the same names: revalidate (a 304 while unchanged).
        add_header Cache-Control "no-cache" always;
        ${pageHeaders(route.site)}
        ${requestIdHeader}
    }`]
}

/** The locations of one service route (see ServiceRoute in routes.ts for the two shapes). */
function routeLocations(route: ServiceRoute, burst: number): string[] {
  const upstream = `http://${upstreamName(route.service)}`
  const locations: string[] = []
  for (const path of route.rateLimited ?? []) {
    // Case-insensitive and with an optional trailing slash, as Express routes match: no way around the limit.
    locations.push(`# ${route.prefix}${path}: rate limited per client IP
    location ~* ^${regexEscape(route.prefix + path)}/?$ {
        limit_req zone=yoyo_token burst=${burst} nodelay;
        rewrite ^ ${path} break;
        proxy_pass ${upstream};
    }`)
  }
  if (route.passThroughExcept === undefined) {
    locations.push(`# ${route.prefix}/<path> → ${route.service} /<path>
    location ${route.prefix}/ {
        proxy_pass ${upstream}/;
    }`)
    return locations
  }
  locations.push(`# ${route.prefix} and ${route.prefix}/<path> → ${route.service} unchanged (its own API lives there)
    location = ${route.prefix} {
        proxy_pass ${upstream};
    }
    location ${route.prefix}/ {
        proxy_pass ${upstream};
    }`)
  for (const own of route.passThroughExcept) {
    locations.push(`# ${route.prefix}${own}[/...] → ${route.service} ${own}[/...] (prefix stripped)
    location = ${route.prefix}${own} {
        proxy_pass ${upstream}${own};
    }
    location ${route.prefix}${own}/ {
        proxy_pass ${upstream}${own}/;
    }`)
  }
  return locations
}

// Internal URIs, not named locations: nginx cannot go to a named location for a request whose line it
// could not parse (it answers a 500 instead), but it can redirect internally to a URI.
const errorPath = (status: number | string): string => `/.yoyo-error/${status}`

function errorLocations(): string {
  return Object.entries(nginxErrors)
    .map(([status, message]) => {
      const extra = status === '429' ? '\n        add_header Retry-After 1 always;' : ''
      return `location = ${errorPath(status)} {
        internal;
        default_type application/json;
        ${requestIdHeader}${extra}
        return ${status} '${JSON.stringify({ error: message })}\\n';
    }`
    })
    .join('\n    ')
}

/**
 * The router's nginx config (http-context directives: upstreams, rate limit zone, one server). Pure:
 * the provisioner writes it as a site, the tests wrap it in a throwaway nginx.conf with their own ports.
 */
export function renderRouterConfig(options: RouterOptions): string {
  const { ratePerSecond, burst } = options.rateLimit ?? tokenRateLimit
  const all = options.routes ?? defaultRoutes
  const serviceRoutes = all.filter((route): route is ServiceRoute => !isStaticRoute(route) && options.upstreams[route.service] !== undefined)
  const staticRoutes = all.filter((route): route is StaticRoute => isStaticRoute(route) && options.staticRoots?.[route.site] !== undefined)
  const services = [...new Set(serviceRoutes.map((route) => route.service))]
  const upstreams = services
    .map((service) => `upstream ${upstreamName(service)} {
    server ${options.upstreams[service]};
    # Reuse connections to the services instead of opening one per request, but close one idle for
    # 500 ms: a service being reloaded closes its idle connections after a 1 s grace
    # (services/shared/server.ts), and nginx must never send a request on one just as that happens.
    keepalive 32;
    keepalive_timeout 500ms;
}`)
    .join('\n')
  const errorPages = [...Object.keys(nginxErrors).map((status) => `error_page ${status} ${errorPath(status)};`), `error_page 494 =431 ${errorPath(431)};`]
    .join('\n    ')
  const locations = [
    ...serviceRoutes.flatMap((route) => routeLocations(route, burst)),
    ...staticRoutes.flatMap((route) => staticLocations(route, options.staticRoots![route.site]!)),
  ].join('\n    ')
  return `# Managed by the yoyo-platform provisioner (rendered from platform.json by nginx/render.ts): edits are overwritten.
${upstreams}

# Token requests per client IP; 1 MB of state holds about 16,000 addresses.
limit_req_zone $binary_remote_addr zone=yoyo_token:1m rate=${ratePerSecond}r/s;

${requestIdMap}

log_format yoyo_json escape=json '{"time":"$time_iso8601","request_id":"$yoyo_request_id",'
    '"remote_addr":"$remote_addr","method":"$request_method","uri":"$request_uri","status":$status,'
    '"bytes":$body_bytes_sent,"ms":$request_time,"upstream":"$upstream_addr","upstream_ms":"$upstream_response_time"}';

server {
    listen ${options.listen} default_server;
    server_name _;
    server_tokens off;
    # Redirects (/queue → /queue/) name a path, not a host and port: behind Vagrant's port forward the
    # browser's host:8080 is not nginx's :80.
    absolute_redirect off;
    access_log ${options.accessLog === 'off' ? 'off' : `${options.accessLog} yoyo_json`};

    client_max_body_size ${maxBodySize};
    limit_req_status 429;

    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Request-Id $yoyo_request_id;
    proxy_set_header X-Real-IP $remote_addr;
    # The address nginx saw, not the client's own X-Forwarded-For with it appended: nginx is the
    # platform's edge, and the Auth API and the dashboard limit failed logins by this address.
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $http_host;
    proxy_connect_timeout 2s;
    proxy_read_timeout 30s;
    proxy_send_timeout 30s;
    # The services echo the request id; nginx sets it once for every answer, its own errors included.
    proxy_hide_header X-Request-Id;
    # What framework answered is nobody's business (kue's express app names itself).
    proxy_hide_header X-Powered-By;
    ${requestIdHeader}

    ${errorPages}

    ${locations}

    # Anything else: JSON 404.
    location / {
        return 404;
    }

    ${errorLocations()}
}
`
}
