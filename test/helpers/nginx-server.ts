import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { freePort } from './ports.ts'

export interface NginxServer {
  port: number
  /** http://127.0.0.1:port */
  url: string
  dir: string
  /** The one nginx process (master_process off: it is the worker too). */
  pid: number
  /** nginx's error log so far (for assertions and failure messages). */
  errorLog(): Promise<string>
  stop(): Promise<void>
}

/**
 * Starts a REAL nginx in a temp dir (its own prefix, pid, logs and temp paths, no root needed beyond
 * what the binary wants) with `httpConfig` included in its http block. `httpConfig` is given the
 * chosen port to listen on, so a test renders its config for that port.
 */
export async function startNginx(httpConfig: (port: number) => string): Promise<NginxServer> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'yoyo-nginx-'))
  await mkdir(join(dir, 'logs'))
  await writeFile(join(dir, 'site.conf'), httpConfig(port))
  // master_process off: one process, running as the test's user, so nothing needs to drop privileges.
  await writeFile(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 256; }
http {
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    include ${dir}/site.conf;
}
`,
  )
  const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'logs', 'error.log')]
  const errorLog = () => readFile(join(dir, 'logs', 'error.log'), 'utf8').catch(() => '')
  try {
    await promisify(execFile)('nginx', [...args, '-t', '-q'])
  } catch (err) {
    const log = await errorLog()
    await rm(dir, { recursive: true, force: true })
    throw new Error(`nginx -t rejected the config: ${(err as { stderr?: string }).stderr ?? ''}${log}`)
  }
  const child: ChildProcess = spawn('nginx', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGQUIT')
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
    }
    await rm(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 10_000
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = await errorLog()
      await stop()
      throw new Error(`nginx did not start on port ${port}: ${stderr}${log}`)
    }
    await sleep(25)
  }
  // It accepts connections, so it was spawned and has a pid.
  return { port, url: `http://127.0.0.1:${port}`, dir, pid: child.pid!, errorLog, stop }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}
