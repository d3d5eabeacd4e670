// Builds the executables into dist/: `moor` (CLI, dependencies loaded from node_modules at run time)
// and `moor-bridge` (the CNI plugin, one self-contained file so it starts fast and can be copied
// alone into a CNI bin directory).
import { build } from 'esbuild';
import { mkdir, writeFile, chmod, cp } from 'node:fs/promises';

const banner = {
  js: "import { createRequire as __moorCreateRequire } from 'node:module'; const require = __moorCreateRequire(import.meta.url);",
};
const common = { bundle: true, platform: 'node', target: 'node20', format: 'esm', banner, sourcemap: false, logLevel: 'warning' };

await mkdir('dist', { recursive: true });
await build({ ...common, entryPoints: ['cli/moor.ts'], outfile: 'dist/moor.mjs', packages: 'external' });
// The CRI client reads its .proto at run time; next to the bundle it finds dist/proto.
await cp('proto', 'dist/proto', { recursive: true });
if (await exists('cni/main.ts')) {
  // The plugin's start-up is most of its latency (bench/cni/README.md): CommonJS loads ~5 ms faster
  // than ESM, and the shebang drops NODE_EXTRA_CA_CERTS / NODE_OPTIONS, which the plugin never needs
  // and which cost up to ~40 ms of Node start (the CA file is parsed eagerly). dist/package.json
  // makes Node read the extensionless dist/moor-bridge as CommonJS (it is, outside a module package).
  await build({ ...common, format: 'cjs', banner: undefined, entryPoints: ['cni/main.ts'], outfile: 'dist/moor-bridge.cjs', minify: true });
  await writeFile('dist/package.json', '{ "type": "commonjs" }\n');
  const shebang = `#!/usr/bin/env -S -u NODE_OPTIONS -u NODE_EXTRA_CA_CERTS ${process.execPath}\n`;
  await writeFile('dist/moor-bridge', shebang + (await import('node:fs')).readFileSync('dist/moor-bridge.cjs', 'utf8'));
  await chmod('dist/moor-bridge', 0o755);
}

async function exists(path) {
  try { await (await import('node:fs/promises')).access(path); return true; } catch { return false; }
}
