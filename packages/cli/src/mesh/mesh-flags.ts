import type { FlagDoc } from '../options.ts'

/** Flags every command that joins a mesh takes (agent, run --seeds, status, stop, results). */
export const MESH_FLAGS: FlagDoc[] = [
  { name: 'seeds', type: 'string', arg: 'LIST', help: 'where to find the mesh: host:port, ip:port or multiaddrs, comma-separated' },
  { name: 'swarm-key', type: 'string', arg: 'FILE', help: 'the private mesh\'s key (from `loadmesh keygen`); required unless --insecure' },
  { name: 'insecure', type: 'boolean', help: 'join without a swarm key: anyone who can reach the mesh may join it' },
  { name: 'identity', type: 'string', arg: 'FILE', help: 'this peer\'s key (created if missing; agents default to ~/.loadmesh/identity, other commands to a fresh one)' },
  { name: 'mesh', type: 'string', arg: 'NAME', help: 'mesh name: meshes with different names share no traffic (default "default")' },
  { name: 'listen', type: 'string', arg: 'MULTIADDR', help: 'where to listen (agent default /ip4/0.0.0.0/tcp/4001; others /ip4/0.0.0.0/tcp/0)' },
  { name: 'heartbeat', type: 'string', arg: 'DUR', help: 'heartbeat period (default 1s)' },
  { name: 'dead-after', type: 'string', arg: 'DUR', help: 'a silent peer is dead after this long; suspect after 60% of it (default 5s)' }
]

export const CONTROL_FLAGS: FlagDoc[] = [
  { name: 'min-agents', type: 'string', arg: 'N', help: 'wait until this many agents are alive (default 1)' },
  { name: 'wait', type: 'string', arg: 'DUR', help: 'give up waiting for the mesh after this long (default 30s; exit 5)' }
]
