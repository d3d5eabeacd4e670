// The local registry serves Moor's images, built reproducibly from Debian packages (scripts/images.sh).
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { IMAGES, IMAGE_REGISTRY } from '../../../common/images.ts';

const run = promisify(execFile);
const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

async function manifest(ref: string): Promise<{ digest: string; body: { config: { digest: string }; layers: { digest: string }[] } }> {
  const [repoPath, tag] = ref.slice(IMAGE_REGISTRY.length + 1).split(':');
  const res = await fetch(`http://${IMAGE_REGISTRY}/v2/${repoPath}/manifests/${tag}`, { headers: { accept } });
  if (!res.ok) throw new Error(`get manifest ${ref}: http ${res.status}`);
  return { digest: res.headers.get('docker-content-digest') ?? '', body: (await res.json()) as never };
}

async function config(ref: string): Promise<{ config: Record<string, unknown> }> {
  const m = await manifest(ref);
  const repoPath = ref.slice(IMAGE_REGISTRY.length + 1).split(':')[0];
  const res = await fetch(`http://${IMAGE_REGISTRY}/v2/${repoPath}/blobs/${m.body.config.digest}`);
  return (await res.json()) as never;
}

const registryUp = await fetch(`http://${IMAGE_REGISTRY}/v2/`).then((r) => r.ok, () => false);
const skip = registryUp ? false : `the local registry is not running on ${IMAGE_REGISTRY} (scripts/images.sh starts it)`;

t.test('every image is served with a distinct digest', { skip }, async (t) => {
  const digests = await Promise.all([IMAGES.pause, IMAGES.busybox, IMAGES.busyboxV2].map(async (ref) => (await manifest(ref)).digest));
  for (const d of digests) t.match(d, /^sha256:[0-9a-f]{64}$/);
  t.equal(new Set(digests).size, 3, 'pause, busybox:1.0 and busybox:2.0 differ');
});

t.test('pause runs /pause as user 65535; busybox defaults to sh with a PATH', { skip }, async (t) => {
  const pause = await config(IMAGES.pause);
  t.same(pause.config.Entrypoint, ['/pause']);
  t.equal(pause.config.User, '65535:65535');
  const busybox = await config(IMAGES.busybox);
  t.same(busybox.config.Cmd, ['sh']);
  t.match(String((busybox.config.Env as string[])[0]), /^PATH=.*\/bin/);
});

t.test('images.sh is reproducible: a second run pushes the same digests', { skip, timeout: 120000 }, async (t) => {
  const before = await Promise.all([IMAGES.pause, IMAGES.busybox, IMAGES.busyboxV2].map(async (ref) => (await manifest(ref)).digest));
  await run('bash', ['scripts/images.sh'], { cwd: new URL('../../..', import.meta.url).pathname });
  const after = await Promise.all([IMAGES.pause, IMAGES.busybox, IMAGES.busyboxV2].map(async (ref) => (await manifest(ref)).digest));
  t.same(after, before);
});

t.test('install-deps.sh --test finds everything installed and changes nothing', async (t) => {
  const { stderr } = await run('bash', ['scripts/install-deps.sh', '--test'], { cwd: new URL('../../..', import.meta.url).pathname });
  t.match(stderr, /all present/);
});
