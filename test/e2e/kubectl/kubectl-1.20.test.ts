// Debian's kubectl 1.20 (package kubernetes-client) against `moor server`: the same scenarios as
// kubectl.test.ts. Installing that package would replace /usr/bin/kubectl, so the client is taken from
// $MOOR_KUBECTL_120, from a 1.20 kubectl on PATH, or unpacked privately (apt-get download + dpkg -x)
// into /var/tmp/moor-test-kubectl-1.20; never installed system-wide.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKubectlSuite } from './suite.ts';

const CACHE = '/var/tmp/moor-test-kubectl-1.20';

function is120(bin: string): boolean {
  const r = spawnSync(bin, ['version', '--client', '--short'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 && /v1\.20\./.test(r.stdout);
}

/** A kubectl 1.20 binary, or the reason there is none. */
function findKubectl120(): { bin?: string; skip?: string } {
  const fromEnv = process.env.MOOR_KUBECTL_120;
  if (fromEnv !== undefined && fromEnv !== '') return is120(fromEnv) ? { bin: fromEnv } : { skip: `MOOR_KUBECTL_120=${fromEnv} is not kubectl 1.20` };
  if (is120('kubectl')) return { bin: 'kubectl' };
  const cached = join(CACHE, 'usr/bin/kubectl');
  if (existsSync(cached) && is120(cached)) return { bin: cached };
  const work = mkdtempSync(join(tmpdir(), 'moor-kubectl-deb-'));
  try {
    const dl = spawnSync('apt-get', ['download', 'kubernetes-client'], { cwd: work, encoding: 'utf8', timeout: 120_000 });
    const deb = readdirSync(work).find((f) => f.startsWith('kubernetes-client_') && f.endsWith('.deb'));
    if (deb === undefined) return { skip: `needs kubectl 1.20: apt-get download kubernetes-client failed: ${(dl.stderr ?? '').trim().split('\n').pop() ?? ''}` };
    mkdirSync(CACHE, { recursive: true });
    const x = spawnSync('dpkg', ['-x', join(work, deb), CACHE], { encoding: 'utf8', timeout: 60_000 });
    if (x.status !== 0 || !is120(cached)) return { skip: `needs kubectl 1.20: unpacking ${deb} failed: ${x.stderr}` };
    return { bin: cached };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const found = findKubectl120();

t.test('kubectl 1.20 against moor server', { skip: found.skip }, async (t) => {
  await runKubectlSuite(t, { bin: found.bin!, minor: 20 });
});
