// The `moor` command: one entry point, one subcommand per part. Subcommands are imported lazily so
// that `moor version` does not load gRPC or SQLite.

import { VERSION } from '../common/version.ts';

type Subcommand = (argv: string[]) => Promise<number>;

const subcommands: Record<string, { summary: string; load: () => Promise<Subcommand> }> = {
  version: { summary: 'print the version', load: async () => async () => { process.stdout.write(`moor ${VERSION}\n`); return 0; } },
  containerd: { summary: 'render the configuration of the containerd a Moor node runs', load: async () => (await import('./containerd.ts')).runContainerd },
  server: { summary: 'run the API server: moor server [--data-dir DIR] ...; moor server token create --node NAME', load: async () => (await import('./server.ts')).runServer },
  agent: { summary: 'run the node agent: pods from --pod-manifest-path on containerd (moor agent --help)', load: async () => (await import('./agent.ts')).runAgent },
  cri: { summary: 'talk to a CRI runtime: moor cri version|status|images|pods|containers', load: async () => (await import('./cri.ts')).runCri },
  'controlplane-worker': { summary: 'internal: the scheduler and controllers thread of moor server', load: async () => (await import('../controlplane/controllers/worker.ts')).runControlPlaneWorker },
};

function usage(): string {
  const lines = [
    `  ${'up'.padEnd(10)} from a checkout (./bin/moor up = scripts/up.sh): containerd, moor server, moor agent joined`,
    `  ${'down'.padEnd(10)} from a checkout: stop that node and remove what up made; --purge also its state`,
    ...Object.entries(subcommands).map(([name, s]) => `  ${name.padEnd(10)} ${s.summary}`),
  ];
  return `usage: moor <command> [flags]\n\ncommands:\n${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const sub = subcommands[name];
  if (sub === undefined) {
    process.stderr.write(`moor: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  return (await sub.load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`moor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
