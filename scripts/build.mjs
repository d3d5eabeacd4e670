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
  // The plugin's layout for a fast start (CommonJS loader, code cache, shebang) lives with it.
  await (await import('../cni/bundle.mjs')).writeMoorBridge('dist');
}

async function exists(path) {
  try { await (await import('node:fs/promises')).access(path); return true; } catch { return false; }
}
