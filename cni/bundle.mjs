// Builds the moor-bridge executable: one self-contained file, so it can be copied alone into a CNI
// bin directory. Used by scripts/build.mjs (dist/moor-bridge) and by the tests' private builds.
//
// Start-up is most of the plugin's latency (bench/cni/README.md), so the file is laid out for it:
// - the shebang drops NODE_EXTRA_CA_CERTS (its CA file is parsed eagerly, ~40 ms) and NODE_OPTIONS,
//   and starts Node with NODE_FLAGS (below);
// - a small CommonJS loader (CommonJS loads faster than ESM) holds the esbuild bundle as a string
//   and compiles it with V8's code cache when one exists: the cache, written after the first
//   successful ADD on a machine into MOOR_CNI_CACHE_DIR (default /var/cache/moor), holds the
//   functions that run compiled, which saves ~5 ms of CPU per invocation. A missing, stale or
//   rejected cache only means a normal compile; the cache is keyed by the bundle's hash and Node's
//   version, and V8 checks it again.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export const SHEBANG_ENV = '/usr/bin/env -S -u NODE_OPTIONS -u NODE_EXTRA_CA_CERTS';

/**
 * Node flags for a process that lives ~50 ms, measured in bench/cni/README.md:
 * --no-rehash-snapshot keeps the hash seed baked into Node's startup snapshot instead of drawing a
 *   random one and rehashing every string and dictionary of the snapshot with it (~2-3 ms of CPU,
 *   a tenth of Node's start). A random seed defends long-running servers against hash flooding;
 *   the plugin reads a few kilobytes from its runtime and from iproute2 and exits.
 * --v8-pool-size=1: one V8 worker thread instead of one per core; the plugin never has background
 *   work for more, and 20 plugins started at once then create 20 threads fewer.
 */
export const NODE_FLAGS = '--no-rehash-snapshot --v8-pool-size=1';

/** The loader; __SOURCE__ and __KEY__ are replaced. Plain ES2020, runs before anything else. */
const LOADER = `"use strict";
const fs = require("fs");
const vm = require("vm");
const source = __SOURCE__;
const key = __KEY__ + "-" + process.version;
const dir = process.env.MOOR_CNI_CACHE_DIR || "/var/cache/moor";
const file = dir + "/moor-bridge-" + key + ".cache";
let cachedData;
try { cachedData = fs.readFileSync(file); } catch (e) { cachedData = undefined; }
const script = new vm.Script(source, { filename: __filename, cachedData });
const stale = cachedData === undefined || script.cachedDataRejected === true;
globalThis.__moorBridgeDone = stale && process.env.MOOR_CNI_CACHE !== "off" ? function (ok) {
  if (!ok) return;
  try {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = file + "." + process.pid;
    fs.writeFileSync(tmp, script.createCachedData());
    fs.renameSync(tmp, file);
    for (const f of fs.readdirSync(dir)) if (f.startsWith("moor-bridge-") && f.endsWith(".cache") && dir + "/" + f !== file) fs.rmSync(dir + "/" + f, { force: true });
  } catch (e) { /* a cache that cannot be written only costs compile time */ }
} : undefined;
script.runInThisContext()(exports, require, module, __filename, __dirname);
`;

/** Bundle cni/main.ts; returns the executable's text. */
export async function bundleMoorBridge({ nodePath = process.execPath, minify = true } = {}) {
  const out = await build({
    bundle: true, platform: 'node', target: 'node20', format: 'cjs', minify, write: false, logLevel: 'warning',
    entryPoints: [join(here, 'main.ts')],
  });
  const bundle = out.outputFiles[0].text;
  // the CommonJS wrapper, so the bundle sees require/module/exports as a module file would
  const source = `(function (exports, require, module, __filename, __dirname) {${bundle}\n})`;
  // V8 rejects a code cache made under other flags: the flags are part of the key
  const key = createHash('sha256').update(NODE_FLAGS).update('\n').update(source).digest('hex').slice(0, 16);
  const loader = LOADER.replace('__SOURCE__', () => JSON.stringify(source)).replace('__KEY__', JSON.stringify(key));
  return `#!${SHEBANG_ENV} ${nodePath} ${NODE_FLAGS}\n${loader}`;
}

/** Write <dir>/moor-bridge (executable) and <dir>/package.json marking the directory CommonJS. */
export async function writeMoorBridge(dir, opts) {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), '{ "type": "commonjs" }\n');
  const tmp = join(dir, `.moor-bridge.${process.pid}`);
  await writeFile(tmp, await bundleMoorBridge(opts));
  await chmod(tmp, 0o755);
  await (await import('node:fs/promises')).rename(tmp, join(dir, 'moor-bridge'));
  return join(dir, 'moor-bridge');
}
