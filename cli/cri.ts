// `moor cri`: ask a CRI runtime a few read-only questions and print the answers as JSON. A small
// debugging aid next to the agent; it goes through the agent's own client (agent/cri/client.ts).

import { createCriClient } from '../agent/cri/client.ts';
import type { CriClient } from '../agent/cri/types.ts';

/** kubelet's default for containerd. */
export const DEFAULT_CRI_ENDPOINT = 'unix:///run/containerd/containerd.sock';

const queries: Record<string, (client: CriClient) => Promise<unknown>> = {
  version: (c) => c.version(),
  status: (c) => c.status({ verbose: false }),
  images: (c) => c.listImages(),
  pods: (c) => c.listPodSandbox(),
  containers: (c) => c.listContainers(),
  // The one query that changes something: scripts/down.sh uses it to take a node's pods away
  // (RemovePodSandbox stops the containers and runs CNI DEL).
  'remove-all-pods': async (c) => {
    const removed: string[] = [];
    for (const sandbox of await c.listPodSandbox()) {
      await c.removePodSandbox(sandbox.id);
      removed.push(sandbox.id);
    }
    return { removed };
  },
};

const USAGE = `usage: moor cri [--container-runtime-endpoint unix:///path.sock] [--timeout-ms N] <${Object.keys(queries).join('|')}>

Prints the runtime's answer as JSON. Endpoint default: ${DEFAULT_CRI_ENDPOINT}
(or $MOOR_CONTAINER_RUNTIME_ENDPOINT). Timestamps are milliseconds since the epoch.
`;

export async function runCri(argv: string[]): Promise<number> {
  let endpoint = process.env.MOOR_CONTAINER_RUNTIME_ENDPOINT || DEFAULT_CRI_ENDPOINT;
  let timeoutMs = 10_000;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    if (flag === '-h' || flag === '--help') {
      process.stdout.write(USAGE);
      return 0;
    } else if (flag === '--container-runtime-endpoint') {
      const v = value();
      if (!v) return usageError('--container-runtime-endpoint needs a value');
      endpoint = v;
    } else if (flag === '--timeout-ms') {
      const v = Number(value());
      if (!Number.isInteger(v) || v <= 0) return usageError('--timeout-ms needs a positive integer');
      timeoutMs = v;
    } else if (flag.startsWith('-')) {
      return usageError(`unknown flag "${flag}"`);
    } else {
      positional.push(arg);
    }
  }
  if (positional.length !== 1) return usageError(positional.length === 0 ? 'missing query' : `one query expected, got "${positional.join(' ')}"`);
  const query = queries[positional[0]!];
  if (query === undefined) return usageError(`unknown query "${positional[0]}"`);

  const client = createCriClient({ endpoint, timeoutMs });
  try {
    const answer = await query(client);
    process.stdout.write(JSON.stringify(answer, null, 2) + '\n');
    return 0;
  } catch (err) {
    process.stderr.write(`moor cri: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    client.close();
  }
}

function usageError(message: string): number {
  process.stderr.write(`moor cri: ${message}\n${USAGE}`);
  return 2;
}
