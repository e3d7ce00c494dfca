// What the provisioned machine exposes, as seen from outside loopback, and who its processes run as.
// Used by provisioned.e2e.ts (root on a provisioned machine). Every command is bounded.
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { $ } from 'zx/core'

$.quiet = true

export interface Listener {
  address: string
  port: number
  pids: number[]
}

/** Every listening TCP socket with the pids that hold it (`ss -Hltnp`). */
export async function tcpListeners(): Promise<Listener[]> {
  const output = await $({ timeout: '10s' })`ss -Hltnp`
  const listeners: Listener[] = []
  for (const line of output.stdout.split('\n')) {
    const local = line.trim().split(/\s+/)[3]
    if (local === undefined) continue
    const colon = local.lastIndexOf(':')
    const pids = [...line.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1]))
    listeners.push({ address: local.slice(0, colon), port: Number(local.slice(colon + 1)), pids })
  }
  return listeners
}

/** The user a process runs as (`ps -o user=`), or undefined when it is gone. */
export async function userOf(pid: number): Promise<string | undefined> {
  const output = await $({ nothrow: true, timeout: '10s' })`ps -o user= -p ${pid}`
  const user = output.stdout.trim()
  return output.exitCode === 0 && user !== '' ? user : undefined
}

/** The machine's first global IPv4 address (`ip -4 addr`), or undefined when it has none. */
export async function nonLoopbackAddress(): Promise<string | undefined> {
  const output = await $({ timeout: '10s' })`ip -4 -o addr show scope global`
  return /inet (\d+\.\d+\.\d+\.\d+)\//.exec(output.stdout)?.[1]
}

/** Whether a TCP connection to host:port is accepted within `timeoutMs` (from this network namespace). */
export function accepts(host: string, port: number, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (result: boolean): void => {
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

export interface Vantage {
  /** How the machine is reached: its global address, or a veth pair from a network namespace. */
  description: string
  /** The machine's address as the outside sees it. */
  target: string
  accepts(port: number): Promise<boolean>
  /** An HTTP GET from outside loopback: the status, or 0 when nothing answered. */
  httpStatus(port: number, path: string): Promise<number>
  close(): Promise<void>
}

/**
 * A point outside loopback to reach the machine from: its own global address when it has one (set
 * PLATFORM_EXPOSURE_NETNS=1 to skip that), else a network namespace joined to the machine by a veth pair
 * on link-local addresses (169.254.213.0/30), removed by close(). Never an external address.
 */
export async function outsideVantage(): Promise<Vantage> {
  const address = process.env.PLATFORM_EXPOSURE_NETNS === '1' ? undefined : await nonLoopbackAddress()
  if (address !== undefined) {
    return {
      description: `the machine's address ${address}`,
      target: address,
      accepts: (port) => accepts(address, port),
      httpStatus: async (port, path) => {
        const output = await $({ nothrow: true, timeout: '15s' })`curl -s -o /dev/null -w %{http_code} --max-time 10 ${`http://${address}:${port}${path}`}`
        return Number(output.stdout.trim()) || 0
      },
      close: async () => {},
    }
  }
  const suffix = randomBytes(3).toString('hex')
  const namespace = `yoyo-exp-${suffix}`
  const hostSide = `yx${suffix}h`
  const nsSide = `yx${suffix}n`
  const [hostAddress, nsAddress] = ['169.254.213.1', '169.254.213.2']
  const close = async (): Promise<void> => {
    await $({ nothrow: true, timeout: '10s' })`ip netns del ${namespace}`
    await $({ nothrow: true, timeout: '10s' })`ip link del ${hostSide}`
  }
  try {
    await $({ timeout: '10s' })`ip netns add ${namespace}`
    await $({ timeout: '10s' })`ip link add ${hostSide} type veth peer name ${nsSide}`
    await $({ timeout: '10s' })`ip link set ${nsSide} netns ${namespace}`
    await $({ timeout: '10s' })`ip addr add ${hostAddress}/30 dev ${hostSide}`
    await $({ timeout: '10s' })`ip link set ${hostSide} up`
    await $({ timeout: '10s' })`ip netns exec ${namespace} ip addr add ${nsAddress}/30 dev ${nsSide}`
    await $({ timeout: '10s' })`ip netns exec ${namespace} ip link set ${nsSide} up`
    await $({ timeout: '10s' })`ip netns exec ${namespace} ip link set lo up`
  } catch (err) {
    await close()
    throw err
  }
  return {
    description: `a network namespace (${nsAddress}) over a veth pair to ${hostAddress}`,
    target: hostAddress,
    accepts: async (port) => {
      const output = await $({ nothrow: true, timeout: '10s' })`ip netns exec ${namespace} timeout 3 bash -c ${`exec 3<>/dev/tcp/${hostAddress}/${port}`}`
      return output.exitCode === 0
    },
    httpStatus: async (port, path) => {
      const output = await $({ nothrow: true, timeout: '15s' })`ip netns exec ${namespace} curl -s -o /dev/null -w %{http_code} --max-time 10 ${`http://${hostAddress}:${port}${path}`}`
      return Number(output.stdout.trim()) || 0
    },
    close,
  }
}
