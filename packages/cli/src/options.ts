import type { ParseArgsConfig } from 'node:util'

type OptionSpec = NonNullable<ParseArgsConfig['options']>[string]

export interface FlagDoc {
  name: string
  type: 'string' | 'boolean'
  arg?: string
  help: string
  short?: string
}

/**
 * The run flags, shared by `run` and `rehearse` and accepted as keys of a plan file. Names are a
 * contract (issues and docs refer to them); add, never rename.
 */
export const RUN_FLAGS: FlagDoc[] = [
  { name: 'target', type: 'string', arg: 'URL', help: 'base URL of an OpenAI-compatible server' },
  { name: 'model', type: 'string', arg: 'NAME', help: 'model name (default: the first of GET /v1/models)' },
  { name: 'api-key', type: 'string', arg: 'KEY', help: 'Bearer token (default: $OPENAI_API_KEY)' },
  { name: 'endpoint', type: 'string', arg: 'chat|completions', help: 'endpoint to drive (default chat; embeddings and moderations: --endpoint-mix)' },
  { name: 'duration', type: 'string', arg: 'DUR', help: 'how long to send, e.g. 30s, 5m (default 30s)' },
  { name: 'rate', type: 'string', arg: 'R', help: 'open loop: arrivals per second (default 10)' },
  { name: 'concurrency', type: 'string', arg: 'C', help: 'closed loop: requests kept in flight (instead of --rate)' },
  { name: 'arrival', type: 'string', arg: 'poisson|gamma|constant', help: 'arrival process (default poisson)' },
  { name: 'burstiness', type: 'string', arg: 'B', help: 'gamma shape: 1 = Poisson, < 1 burstier (default 1)' },
  { name: 'input-tokens', type: 'string', arg: 'SPEC', help: 'prompt length, e.g. fixed:512, lognormal:mean=512,stdev=256,min=16,max=4096' },
  { name: 'output-tokens', type: 'string', arg: 'SPEC', help: 'max_tokens per request, e.g. negbin:mean=128,r=2,min=1,max=1024' },
  { name: 'stream', type: 'boolean', help: 'stream responses (SSE); --no-stream to disable (default on)' },
  { name: 'ignore-eos', type: 'boolean', help: 'send ignore_eos: true (vLLM) so servers emit exactly max_tokens' },
  { name: 'seed', type: 'string', arg: 'N', help: 'PRNG seed: same seed, same requests (default random, reported)' },
  { name: 'slo', type: 'string', arg: 'SPEC', help: 'SLOs for goodput, e.g. ttft=500ms,tpot=50ms,e2e=10s' },
  { name: 'max-in-flight', type: 'string', arg: 'N', help: 'open-loop cap; arrivals over it are dropped and counted (default 4096)' },
  { name: 'http-client', type: 'string', arg: 'KIND', help: 'auto (own HTTP/1.1 pool for http://, undici for https://) or undici (default auto)' },
  { name: 'connections', type: 'string', arg: 'N', help: 'keep-alive connections in the pool (default: max in flight, at most 1024)' },
  { name: 'timeout', type: 'string', arg: 'DUR', help: 'per-request timeout (default 120s)' },
  { name: 'max-error-rate', type: 'string', arg: 'F', help: 'exit 3 when failed/sent exceeds F (default 0)' },
  { name: 'fail-on-slo', type: 'boolean', help: 'exit 4 when the SLO gate fails' },
  { name: 'endpoint-mix', type: 'string', arg: 'MIX', help: 'endpoints by weight, e.g. chat=0.7,completions=0.2,embeddings=0.05,moderations=0.05' },
  { name: 'stream-ratio', type: 'string', arg: 'F', help: 'fraction of generation requests streamed, 0..1 (default: all with --stream, none with --no-stream)' },
  { name: 'replay', type: 'string', arg: 'LOG', help: 'replay a request log on its own timeline (docs/workload.md) instead of synthetic arrivals' },
  { name: 'speedup', type: 'string', arg: 'X', help: 'replay X times faster (default 1)' },
  { name: 'loop', type: 'boolean', help: 'replay: start the log again after its end, until --duration' },
  { name: 'window', type: 'string', arg: 'FROM..TO', help: 'replay: the part of the log to play, log time since its first record, e.g. 10m..20m, ..5m, 1h..' },
  { name: 'workload', type: 'string', arg: 'MODEL', help: 'sample arrivals, lengths, classes and sessions from a fitted model (loadmesh workload fit)' },
  { name: 'rate-scale', type: 'string', arg: 'X', help: 'replay or model: multiply the request rate (default 1)' },
  { name: 'input-scale', type: 'string', arg: 'X', help: 'model: multiply input lengths (default 1)' },
  { name: 'output-scale', type: 'string', arg: 'X', help: 'model: multiply output lengths (default 1)' },
  { name: 'long-tail', type: 'string', arg: 'SPEC', help: 'oversample rare classes and lengths with importance weights, e.g. threshold=1e-4,factor=100' },
  { name: 'adversarial', type: 'string', arg: 'SPEC', help: 'mix in labelled adversarial inputs, e.g. 0.05 or 0.05,kinds=nested-json+bidi+empty' },
  { name: 'out', type: 'string', arg: 'FILE', help: 'write the JSON report to FILE' },
  { name: 'plan', type: 'string', arg: 'FILE', help: 'read these settings from a YAML plan (flags override)' }
]

export const REHEARSE_FLAGS: FlagDoc[] = [
  { name: 'sim-ttft', type: 'string', arg: 'SPEC', help: 'simulated time to first token, e.g. 100ms or lognormal:mean=100ms,stdev=20ms,min=1ms,max=5s (default 100ms)' },
  { name: 'sim-itl', type: 'string', arg: 'SPEC', help: 'simulated inter-token latency (default 10ms)' }
]

/**
 * The simulator's engine and faults, taken by `simulate` and `rehearse` (and by a plan's `simulator:`
 * section). The fixed engine stays the default, so --sim-ttft / --sim-itl keep their meaning.
 */
export const SIM_ENGINE_FLAGS: FlagDoc[] = [
  { name: 'profile', type: 'string', arg: 'NAME|FILE', help: 'simulator engine: fixed (default: --sim-ttft/--sim-itl), a preset or a JSON profile (docs/simulator-profiles.md)' },
  { name: 'replicas', type: 'string', arg: 'N', help: 'simulated replicas behind the endpoint (step profiles; default 1)' },
  { name: 'routing', type: 'string', arg: 'round-robin|least-loaded', help: 'how requests pick a replica (default round-robin)' },
  { name: 'max-waiting', type: 'string', arg: 'N', help: 'per-replica queue limit: requests over it get 503 + retry-after (step profiles)' },
  { name: 'faults', type: 'string', arg: 'FILE|JSON', help: 'faults to inject: a YAML/JSON file or inline JSON (docs/simulator.md)' },
  {
    name: 'tokens-per-chunk', type: 'string', arg: 'N',
    help: 'tokens per streamed SSE frame while the simulator keeps up (default 1); one that falls behind merges each stream\'s pending tokens into one frame'
  },
  {
    name: 'prefix-caching', type: 'boolean',
    help: 'step profiles: cache prompt prefixes (scheduler.prefix_caching), so a conversation\'s later turns skip the prefill of the earlier ones'
  }
]

export const COMMON_FLAGS: FlagDoc[] = [
  { name: 'quiet', type: 'boolean', short: 'q', help: 'no live panel' },
  { name: 'json', type: 'boolean', help: 'print the JSON report on stdout instead of the table' },
  { name: 'help', type: 'boolean', short: 'h', help: 'show help' }
]

export const SIMULATE_FLAGS: FlagDoc[] = [
  { name: 'port', type: 'string', arg: 'P', help: 'port to listen on (default 8000; 0 = any free port)' },
  { name: 'host', type: 'string', arg: 'ADDR', help: 'address to bind (default 127.0.0.1)' },
  { name: 'model', type: 'string', arg: 'NAME', help: 'model name served (default loadmesh-sim)' },
  { name: 'seed', type: 'string', arg: 'N', help: 'PRNG seed for latency noise, text and fault draws (default 1)' },
  ...REHEARSE_FLAGS,
  ...SIM_ENGINE_FLAGS,
  { name: 'help', type: 'boolean', short: 'h', help: 'show help' }
]

export function toParseArgsOptions (flags: FlagDoc[]): Record<string, OptionSpec> {
  const out: Record<string, OptionSpec> = {}
  for (const f of flags) {
    out[f.name] = f.short === undefined ? { type: f.type } : { type: f.type, short: f.short }
  }
  return out
}

export function formatFlags (flags: FlagDoc[]): string {
  const left = flags.map((f) => `  --${f.name}${f.arg !== undefined ? ` ${f.arg}` : ''}`)
  const width = Math.min(44, Math.max(...left.map((l) => l.length)) + 2)
  return flags.map((f, i) => {
    const l = left[i]
    return l.length >= width ? `${l}\n${' '.repeat(width)}${f.help}` : `${l.padEnd(width)}${f.help}`
  }).join('\n')
}
