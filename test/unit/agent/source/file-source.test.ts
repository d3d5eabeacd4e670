import t from 'tap';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { FileSource } from '../../../../agent/source/file-source.ts';
import type { PodSourceUpdate } from '../../../../agent/source/types.ts';
import { silentLogger } from '../../../../common/log.ts';
import { waitFor } from '../../../../common/wait.ts';

const pod = (name: string, image = 'reg/app:1') => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  containers: [{name: app, image: "${image}"}]\n`;

t.test('watches the directory: add, change, remove, invalid, duplicates', async (t) => {
  const dir = await mkdtemp(`${tmpdir()}/moor-manifests-`);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(`${dir}/a.yaml`, pod('a'));
  await writeFile(`${dir}/.hidden.yaml`, pod('hidden'));
  const updates: PodSourceUpdate[] = [];
  const source = new FileSource({ path: dir, nodeName: 'n1', log: silentLogger(), rescanPeriodMs: 60_000, debounceMs: 5 });
  t.teardown(() => source.stop());
  await source.start((u) => updates.push(u));
  t.equal(updates.length, 1, 'the first set arrives before start resolves');
  t.same(updates[0].pods.map((p) => p.metadata.name), ['a-n1']);
  const last = () => updates[updates.length - 1];
  const names = () => last().pods.map((p) => p.metadata.name);

  await writeFile(`${dir}/b.yaml.tmp`, pod('b'));
  await rename(`${dir}/b.yaml.tmp`, `${dir}/b.yaml`);
  await waitFor(() => names().includes('b-n1'), { timeoutMs: 5000, what: 'pod b' });
  const uidBefore = last().pods.find((p) => p.metadata.name === 'a-n1')!.metadata.uid;

  await writeFile(`${dir}/a.yaml`, pod('a', 'reg/app:2'));
  await waitFor(() => last().pods.find((p) => p.metadata.name === 'a-n1')?.spec.containers[0].image === 'reg/app:2', { timeoutMs: 5000, what: 'changed a' });
  t.not(last().pods.find((p) => p.metadata.name === 'a-n1')!.metadata.uid, uidBefore, 'a changed spec is a new pod');

  await writeFile(`${dir}/bad.yaml`, 'apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec: {containers: [{name: c}]}\n');
  await waitFor(() => last().manifests.some((m) => m.path.endsWith('bad.yaml')), { timeoutMs: 5000, what: 'bad manifest reported' });
  const bad = last().manifests.find((m) => m.path.endsWith('bad.yaml'))!;
  t.same(bad.problems, [{ document: 1, errors: ['spec.containers[0].image: Required value'] }]);
  t.same(names().sort(), ['a-n1', 'b-n1'], 'the others carry on');

  await writeFile(`${dir}/dup.yaml`, pod('a'));
  await waitFor(() => last().manifests.some((m) => m.path.endsWith('dup.yaml')), { timeoutMs: 5000, what: 'duplicate reported' });
  t.match(last().manifests.find((m) => m.path.endsWith('dup.yaml'))!.problems[0].errors[0], /Duplicate value: pod default\/a-n1 is also defined in a\.yaml/);

  await rm(`${dir}/b.yaml`);
  await waitFor(() => !names().includes('b-n1'), { timeoutMs: 5000, what: 'b removed' });
  t.same(names(), ['a-n1']);
});

t.test('a missing directory is an empty set; it is picked up when it appears', async (t) => {
  const base = await mkdtemp(`${tmpdir()}/moor-manifests-`);
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const updates: PodSourceUpdate[] = [];
  const source = new FileSource({ path: `${base}/later`, nodeName: 'n1', log: silentLogger(), rescanPeriodMs: 50 });
  t.teardown(() => source.stop());
  await source.start((u) => updates.push(u));
  t.equal(updates.length, 1);
  t.same(updates[0].pods, []);
  await mkdir(`${base}/later`);
  await writeFile(`${base}/later/p.yaml`, pod('p'));
  await waitFor(() => updates[updates.length - 1].pods.length === 1, { timeoutMs: 5000, what: 'pod from the new directory' });
});

t.test('a directory removed and made again is watched again', async (t) => {
  const base = await mkdtemp(`${tmpdir()}/moor-manifests-`);
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const dir = `${base}/m`;
  await mkdir(dir);
  const updates: PodSourceUpdate[] = [];
  const source = new FileSource({ path: dir, nodeName: 'n1', log: silentLogger(), rescanPeriodMs: 60_000, debounceMs: 5 });
  t.teardown(() => source.stop());
  await source.start((u) => updates.push(u));
  await rm(dir, { recursive: true });
  await mkdir(dir);
  await waitFor(() => updates.length >= 1, { timeoutMs: 5000, what: 'rescan after the removal' });
  // Give the removal's event time to be handled, then write into the new directory.
  await new Promise((r) => setTimeout(r, 100));
  await writeFile(`${dir}/p.yaml`, pod('p'));
  await waitFor(() => updates[updates.length - 1].pods.length === 1, { timeoutMs: 5000, what: 'pod seen through the new watch (the rescan is a minute away)' });
});
