import { isIPv4, isIPv6 } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import { SeedError } from './errors.ts'

/**
 * Parses `--seeds`: a comma- or whitespace-separated list where each entry is
 *  - `host:port`        → `/dns4/host/tcp/port` (a Kubernetes headless service name works: no peer id needed)
 *  - `1.2.3.4:port`     → `/ip4/1.2.3.4/tcp/port`
 *  - `[::1]:port`       → `/ip6/::1/tcp/port`
 *  - a TCP multiaddr, optionally ending in `/p2p/<peer id>` (then the dial also checks who answers)
 * Empty entries are ignored and duplicates removed. Errors name the bad entry and its position.
 */
export function parseSeeds(text: string | readonly string[]): Multiaddr[] {
  const entries = (typeof text === 'string' ? [text] : text)
    .flatMap((t) => t.split(/[\s,]+/))
    .filter((e) => e !== '')
  const seen = new Set<string>()
  const out: Multiaddr[] = []
  entries.forEach((entry, i) => {
    const addr = parseSeed(entry, `seed ${i + 1} of ${entries.length} ("${entry}")`)
    const key = addr.toString()
    if (!seen.has(key)) {
      seen.add(key)
      out.push(addr)
    }
  })
  return out
}

/** Parses one seed entry; `where` prefixes error messages. */
export function parseSeed(entry: string, where = `seed "${entry}"`): Multiaddr {
  if (entry.startsWith('/')) return parseSeedMultiaddr(entry, where)

  let host: string
  let portText: string
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(entry)
  if (v6 !== null) {
    host = v6[1]
    portText = v6[2]
    if (!isIPv6(host)) throw new SeedError(`${where}: "${host}" inside [...] is not an IPv6 address`)
  } else {
    const colon = entry.lastIndexOf(':')
    if (colon < 0) throw new SeedError(`${where}: missing port; expected host:port, [ipv6]:port or a multiaddr like /ip4/10.0.0.1/tcp/4001`)
    host = entry.slice(0, colon)
    portText = entry.slice(colon + 1)
    if (host.includes(':')) throw new SeedError(`${where}: IPv6 addresses need brackets, e.g. [${host}]:${portText}`)
  }
  const port = parsePort(portText, where)
  if (v6 !== null) return multiaddr(`/ip6/${host}/tcp/${port}`)
  if (isIPv4(host)) return multiaddr(`/ip4/${host}/tcp/${port}`)
  if (/^\d+(\.\d+)*$/.test(host)) throw new SeedError(`${where}: "${host}" is not a valid IPv4 address`)
  if (!isHostname(host)) throw new SeedError(`${where}: "${host}" is not a valid host name`)
  return multiaddr(`/dns4/${host}/tcp/${port}`)
}

function parseSeedMultiaddr(entry: string, where: string): Multiaddr {
  let addr: Multiaddr
  try {
    addr = multiaddr(entry)
  } catch (err) {
    throw new SeedError(`${where}: not a valid multiaddr: ${(err as Error).message}`)
  }
  const parts = addr.getComponents()
  const head = parts[0]?.name
  if (head === 'dnsaddr') {
    if (parts.length > 2 || (parts.length === 2 && parts[1].name !== 'p2p')) {
      throw new SeedError(`${where}: a /dnsaddr/ seed may only be followed by /p2p/<peer id>`)
    }
    return addr
  }
  if (head !== 'ip4' && head !== 'ip6' && head !== 'dns4' && head !== 'dns6' && head !== 'dns') {
    throw new SeedError(`${where}: must start with /ip4, /ip6, /dns4, /dns6, /dns or /dnsaddr`)
  }
  if (parts[1]?.name !== 'tcp') throw new SeedError(`${where}: must be a TCP address (${parts[0].name}/…/tcp/<port>)`)
  parsePort(parts[1].value ?? '', where)
  if (parts.length > 3 || (parts.length === 3 && parts[2].name !== 'p2p')) {
    throw new SeedError(`${where}: only /p2p/<peer id> may follow /tcp/<port> (the mesh speaks plain TCP)`)
  }
  return addr
}

function parsePort(text: string, where: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new SeedError(`${where}: port "${text}" is not a number`)
  const port = Number(text)
  if (port < 1 || port > 65535) throw new SeedError(`${where}: port ${port} is outside 1-65535`)
  return port
}

function isHostname(host: string): boolean {
  const h = host.endsWith('.') ? host.slice(0, -1) : host
  if (h.length === 0 || h.length > 253) return false
  return h.split('.').every((label) => /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(label))
}

/** The peer id in a multiaddr's trailing `/p2p/` component, if any. */
export function seedPeerId(addr: Multiaddr): string | undefined {
  const p2p = addr.getComponents().find((c) => c.name === 'p2p')
  return p2p?.value
}
