// The executable's V8 code cache (cni/bundle.mjs): written after the first successful ADD, used
// (not rewritten) afterwards, and a corrupt or foreign cache file only costs a normal compile.
import t from 'tap';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, isRoot, moorConfig } from './lab.ts';

const skip = isRoot() ? false : 'needs root';

t.test('code cache: written once, reused, corruption tolerated', { skip }, async (t) => {
  const lab = await Lab.create();
  t.teardown(() => lab.cleanup());
  const cacheDir = join(lab.dir, 'code-cache');
  const env = { MOOR_CNI_CACHE_DIR: cacheDir };
  const conf = moorConfig(lab, {}, '10.218.0.0/24');
  const files = () => {
    try {
      return readdirSync(cacheDir).filter((f) => f.endsWith('.cache'));
    } catch {
      return [];
    }
  };

  const v = await lab.invoke({ command: 'VERSION', config: { cniVersion: '1.0.0' }, env });
  t.equal(v.code, 0);
  t.same(files(), [], 'VERSION writes no cache');

  const add = async (id: string) => {
    const p = lab.podNs();
    const r = await lab.invoke({ command: 'ADD', config: conf, containerId: id, netns: p.path, ifName: 'eth0', env });
    t.equal(r.code, 0, `ADD ${id}: ${r.stdout}`);
  };
  await add('first');
  const [cache] = files();
  t.match(cache, /^moor-bridge-[0-9a-f]{16}-v\d+\.\d+\.\d+\.cache$/, 'the first ADD writes the cache, keyed by bundle and Node version');
  const written = statSync(join(cacheDir, cache!));
  t.ok(written.size > 10_000, 'holding compiled functions');

  await add('second');
  t.equal(statSync(join(cacheDir, cache!)).mtimeMs, written.mtimeMs, 'an accepted cache is not rewritten');

  writeFileSync(join(cacheDir, cache!), 'not a V8 code cache');
  writeFileSync(join(cacheDir, 'moor-bridge-0000000000000000-v0.0.0.cache'), 'an older build');
  await add('third');
  t.ok(statSync(join(cacheDir, cache!)).size > 10_000, 'a rejected cache is replaced after a successful ADD');
  t.same(files(), [cache], "another build's cache is removed when ours is written");
});
