import { BenchError } from './bench-error.ts'

export interface NginxConfigOptions {
  /** Directory for the pid file, error log and temp paths (a mkdtemp dir). */
  prefix: string
  port: number
  /** The fixed response body of POST /v1/chat/completions. */
  body: string
  path: string
}

/**
 * A single-process nginx (no master: one process is the one worker, so pinning it pins the worker)
 * that answers the chat path with a fixed JSON body, keeps connections alive indefinitely and
 * logs no requests. Everything it writes stays under `prefix`.
 */
export function renderNginxConfig(o: NginxConfigOptions): string {
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new BenchError('ERR_BAD_NGINX_CONFIG', `nginx config: port ${o.port} is not a TCP port`)
  const dir = o.prefix.replace(/\/+$/, '')
  for (const [what, v] of [['prefix', dir], ['path', o.path]] as const) {
    if (!/^[A-Za-z0-9_./-]+$/.test(v)) throw new BenchError('ERR_BAD_NGINX_CONFIG', `nginx config: ${what} "${v}" has characters that would need quoting`)
  }
  return [
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events {',
    '  worker_connections 4096;',
    '  multi_accept on;',
    '}',
    'http {',
    '  access_log off;',
    '  server_tokens off;',
    `  client_body_temp_path ${dir}/client_body;`,
    `  proxy_temp_path ${dir}/proxy;`,
    `  fastcgi_temp_path ${dir}/fastcgi;`,
    `  uwsgi_temp_path ${dir}/uwsgi;`,
    `  scgi_temp_path ${dir}/scgi;`,
    '  keepalive_timeout 300s;',
    '  keepalive_requests 1000000000;',
    '  server {',
    `    listen 127.0.0.1:${o.port};`,
    `    location = ${o.path} {`,
    '      default_type application/json;',
    `      return 200 ${nginxQuote(o.body)};`,
    '    }',
    '    location / {',
    '      return 404;',
    '    }',
    '  }',
    '}',
    ''
  ].join('\n')
}

/**
 * A single-quoted nginx string. `return` text is a complex value, so `$` would start a variable
 * and cannot be escaped; control characters would be reinterpreted. Both are refused.
 */
export function nginxQuote(text: string): string {
  if (text.includes('$')) throw new BenchError('ERR_BAD_NGINX_CONFIG', 'nginx config: the response body must not contain "$" (nginx would read a variable)')
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new BenchError('ERR_BAD_NGINX_CONFIG', 'nginx config: the response body must not contain control characters')
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}
