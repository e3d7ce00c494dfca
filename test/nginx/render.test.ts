import t from 'tap'
import { renderRouterConfig } from '../../nginx/render.ts'
import { routes } from '../../nginx/routes.ts'

const config = renderRouterConfig({
  listen: 80,
  upstreams: { auth: '127.0.0.1:5000', transactions: '127.0.0.1:5001', loyalty: '127.0.0.1:5002', dashboard: '127.0.0.1:5003' },
  staticRoots: { docs: '/var/www/yoyo-platform/docs' },
  accessLog: '/var/log/nginx/yoyo-platform.access.log',
})

t.test('when the router config is rendered, then every route of the one list has its location', async (t) => {
  for (const route of routes) t.match(config, `location ${route.prefix}/ {`, route.prefix)
  t.match(config, 'location = /transactions {')
  t.match(config, 'location = /transactions/transactions {\n        proxy_pass http://yoyo_transactions/transactions;')
  t.match(config, 'location ~* ^/authentication/token/?$ {')
})

t.test('when rendered, then upstreams keep connections alive and requests carry ids and forwarding headers', async (t) => {
  for (const [service, port] of [['auth', 5000], ['transactions', 5001], ['loyalty', 5002], ['dashboard', 5003]] as const) {
    t.match(config, `upstream yoyo_${service} {\n    server 127.0.0.1:${port};`)
  }
  t.equal(config.match(/keepalive 32;/g)?.length, 4)
  t.equal(config.match(/keepalive_timeout 500ms;/g)?.length, 4, 'idle upstream connections closed before a reloading service closes them')
  for (const line of [
    'listen 80 default_server;',
    'server_tokens off;',
    'client_max_body_size 16k;',
    'proxy_http_version 1.1;',
    'proxy_set_header Connection "";',
    'proxy_set_header X-Request-Id $yoyo_request_id;',
    'add_header X-Request-Id $yoyo_request_id always;',
    'proxy_set_header X-Forwarded-For $remote_addr;',
    'proxy_set_header X-Forwarded-Proto $scheme;',
    'limit_req_zone $binary_remote_addr zone=yoyo_token:1m rate=10r/s;',
    'limit_req zone=yoyo_token burst=20 nodelay;',
    'limit_req_status 429;',
    'access_log /var/log/nginx/yoyo-platform.access.log yoyo_json;',
  ]) t.match(config, line)
})

t.test('when rendered, then each error nginx answers itself has a JSON body', async (t) => {
  for (const status of [400, 404, 405, 413, 414, 429, 431, 502, 503, 504]) {
    t.match(config, `error_page ${status} /.yoyo-error/${status};`)
    t.match(config, new RegExp(`location = /\\.yoyo-error/${status} \\{\\s+internal;\\s+default_type application/json;[\\s\\S]*?return ${status} '\\{"error":"[^"]+"\\}\\\\n';`))
  }
  t.match(config, 'error_page 494 =431 /.yoyo-error/431;', 'nginx\'s own 494 (headers too large) goes out as 431')
  t.notMatch(config, /proxy_intercept_errors/, 'the services\' own errors pass through')
})

t.test('when given other ports, limits or no access log, then the render follows (one pure function)', async (t) => {
  const other = renderRouterConfig({
    listen: '127.0.0.1:8081',
    upstreams: { auth: '127.0.0.1:6000', transactions: '127.0.0.1:6001', loyalty: '127.0.0.1:6002' },
    accessLog: 'off',
    rateLimit: { ratePerSecond: 2, burst: 3 },
  })
  t.match(other, 'listen 127.0.0.1:8081 default_server;')
  t.match(other, 'server 127.0.0.1:6002;')
  t.match(other, 'access_log off;')
  t.match(other, 'rate=2r/s;')
  t.match(other, 'burst=3 nodelay;')
  t.equal(renderRouterConfig({ listen: 80, upstreams: { auth: 'a:1', transactions: 'b:2', loyalty: 'c:3' }, accessLog: 'off' }),
    renderRouterConfig({ listen: 80, upstreams: { auth: 'a:1', transactions: 'b:2', loyalty: 'c:3' }, accessLog: 'off' }), 'deterministic')
})

t.test('when rendered, then /queue/ reaches the dashboard with the prefix stripped and /docs/ is served from its directory', async (t) => {
  t.match(config, 'location /queue/ {\n        proxy_pass http://yoyo_dashboard/;')
  t.match(config, 'location = /docs {\n        return 301 /docs/;')
  t.match(config, /location \/docs\/ \{\n\s+alias \/var\/www\/yoyo-platform\/docs\/;\n\s+index index.html;/)
  t.match(config, 'text/css css;', 'stylesheets as text/css whatever the machine\'s mime.types')
  t.match(config, 'absolute_redirect off;', 'redirects keep the host\'s port (Vagrant forwards 8080 to 80)')
})

t.test('when a service has no upstream or a site no directory, then its route is left out (a stack of some services)', async (t) => {
  const some = renderRouterConfig({ listen: 80, upstreams: { auth: 'a:1', transactions: 'b:2', loyalty: 'c:3' }, accessLog: 'off' })
  t.notMatch(some, 'yoyo_dashboard')
  t.notMatch(some, 'location /queue/')
  t.notMatch(some, 'location /docs/')
  t.match(some, 'location /loyalty/ {')
})
