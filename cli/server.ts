// `moor server`: run the API server (flags named as k3s/kube-apiserver name them), and
// `moor server token create --node NAME`: mint a node's bearer token in the server's token file.

import { createLogger } from '../common/log.ts';
import { errorMessage } from '../common/errors.ts';
import { defaultTokenFile, startServer, type ServerConfig } from '../controlplane/server.ts';
import { createNodeToken } from '../controlplane/apiserver/tokens.ts';
import { CONTROL_PLANE_USAGE, resolveControlPlaneArgs, type ControlPlaneConfig } from '../controlplane/controllers/config.ts';
import { DEFAULT_DEFAULTS_OPTIONS, type DefaultsOptions } from '../controlplane/apiserver/defaults.ts';

export const DEFAULT_DATA_DIR = '/var/lib/moor/server';

const USAGE = `usage: moor server [flags]
       moor server token create --node NAME [--data-dir DIR] [--token-file FILE]

flags:
  --data-dir DIR               state, certificates, tokens, SQLite store (default ${DEFAULT_DATA_DIR})
  --bind-address ADDR          address to listen on (default 0.0.0.0)
  --secure-port PORT           HTTPS port (default 6443; 0 picks a free one)
  --datastore-endpoint URL     empty: embedded SQLite; http(s)://host:2379[,...]: etcd v3
  --token-file FILE            static tokens, "token,user,uid,\\"groups\\"" lines (default <data-dir>/tokens.csv)
  --tls-san NAME               extra name or address for the serving certificate (repeatable)
  --etcd-compaction-interval D store history kept and compaction period, both stores (default 5m; 0 = never)
  --default-not-ready-toleration-seconds N
                               tolerationSeconds of the node.kubernetes.io/not-ready:NoExecute toleration
                               added to every pod that has none (default 300)
  --default-unreachable-toleration-seconds N
                               the same for node.kubernetes.io/unreachable:NoExecute (default 300)

On first start the server creates its CA, serving certificate and <data-dir>/admin.kubeconfig.
The scheduler and controllers run by default; MOOR_CONTROLPLANE_ARGS adds their flags from the environment.

${CONTROL_PLANE_USAGE}`;

interface Parsed {
  readonly flags: Map<string, string[]>;
  readonly positional: string[];
}

function parseFlags(argv: readonly string[], known: readonly string[]): Parsed {
  const flags = new Map<string, string[]>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) { positional.push(arg); continue; }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (name === 'help') { flags.set('help', ['']); continue; }
    if (!known.includes(name)) throw new Error(`unknown flag --${name}`);
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new Error(`flag --${name} needs a value`);
    flags.set(name, [...(flags.get(name) ?? []), value]);
  }
  return { flags, positional };
}

function last(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return v === undefined ? undefined : v[v.length - 1];
}

/** `5m`, `1m30s`, `500ms`, `0` → milliseconds; undefined when not a duration. */
export function parseDurationMs(text: string): number | undefined {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== consumed) return undefined;
    total += Number(m[1]) * units[m[2]];
    consumed += m[0].length;
  }
  return consumed === text.length && consumed > 0 ? Math.round(total) : undefined;
}

const TOLERATION_FLAGS = { notReadyTolerationSeconds: 'default-not-ready-toleration-seconds', unreachableTolerationSeconds: 'default-unreachable-toleration-seconds' } as const;

/** kube-apiserver's --default-*-toleration-seconds: whole seconds, 0 or more. Throws naming the flag and value. */
export function parseTolerationFlags(values: ReadonlyMap<string, string | undefined>): DefaultsOptions {
  const out: { -readonly [K in keyof DefaultsOptions]: number } = { ...DEFAULT_DEFAULTS_OPTIONS };
  for (const [key, flag] of Object.entries(TOLERATION_FLAGS) as [keyof DefaultsOptions, string][]) {
    const text = values.get(flag);
    if (text === undefined) continue;
    if (!/^\d{1,10}$/.test(text)) throw new Error(`parse --${flag}: want a whole number of seconds (0 or more), got ${JSON.stringify(text)}`);
    out[key] = Number(text);
  }
  return Object.freeze(out);
}

export async function runServer(argv: string[]): Promise<number> {
  let parsed: Parsed;
  let controlPlane: { config: ControlPlaneConfig; rest: string[] };
  let defaults: DefaultsOptions;
  try {
    // The scheduler's and controllers' flags (and MOOR_CONTROLPLANE_ARGS) first; the rest are ours.
    controlPlane = resolveControlPlaneArgs(argv, process.env);
    parsed = parseFlags(controlPlane.rest, ['data-dir', 'bind-address', 'secure-port', 'datastore-endpoint', 'token-file', 'tls-san', 'node', 'etcd-compaction-interval', ...Object.values(TOLERATION_FLAGS)]);
    defaults = parseTolerationFlags(new Map(Object.values(TOLERATION_FLAGS).map((f) => [f, last(parsed, f)])));
  } catch (err) {
    process.stderr.write(`moor server: ${errorMessage(err)}\n${USAGE}`);
    return 2;
  }
  if (parsed.flags.has('help')) { process.stdout.write(USAGE); return 0; }
  const dataDir = last(parsed, 'data-dir') ?? DEFAULT_DATA_DIR;
  if (parsed.positional[0] === 'token') {
    if (parsed.positional[1] !== 'create' || parsed.positional.length !== 2) {
      process.stderr.write(`moor server: unknown token command "${parsed.positional.slice(1).join(' ')}"\n${USAGE}`);
      return 2;
    }
    const node = last(parsed, 'node');
    if (node === undefined || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(node)) {
      process.stderr.write(`moor server token create: --node needs a node name (lower case letters, digits, '-', '.'), got ${JSON.stringify(node ?? '')}\n`);
      return 2;
    }
    process.stdout.write(`${createNodeToken(last(parsed, 'token-file') ?? defaultTokenFile(dataDir), node)}\n`);
    return 0;
  }
  if (parsed.positional.length > 0) {
    process.stderr.write(`moor server: unexpected argument "${parsed.positional[0]}"\n${USAGE}`);
    return 2;
  }
  const port = Number(last(parsed, 'secure-port') ?? '6443');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`moor server: --secure-port must be a port number, got ${JSON.stringify(last(parsed, 'secure-port'))}\n`);
    return 2;
  }
  const compaction = last(parsed, 'etcd-compaction-interval');
  const compactIntervalMs = compaction === undefined ? undefined : parseDurationMs(compaction);
  if (compactIntervalMs === undefined && compaction !== undefined) {
    process.stderr.write(`moor server: --etcd-compaction-interval must be a duration such as 5m, 30s or 500ms, got ${JSON.stringify(compaction)}\n`);
    return 2;
  }
  const config: ServerConfig = {
    compactIntervalMs,
    dataDir,
    bindAddress: last(parsed, 'bind-address') ?? '0.0.0.0',
    securePort: port,
    datastoreEndpoint: last(parsed, 'datastore-endpoint') ?? '',
    tokenFile: last(parsed, 'token-file'),
    tlsSans: parsed.flags.get('tls-san') ?? [],
    controlPlane: controlPlane.config,
    defaults,
    bookmarkIntervalMs: process.env.MOOR_BOOKMARK_INTERVAL_MS === undefined ? undefined : Number(process.env.MOOR_BOOKMARK_INTERVAL_MS),
  };
  const log = createLogger({ name: 'moor-server' });
  const running = await startServer(config, log);
  // One line on stdout for scripts and tests: where to connect.
  process.stdout.write(`${JSON.stringify({ url: running.url, port: running.port, kubeconfig: running.adminKubeconfig })}\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      running.stop().then(() => resolve(0), (err: unknown) => {
        log.error({ err: errorMessage(err) }, 'stop failed');
        resolve(1);
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
