import t from 'tap';
import { buildMirrorPod, isMirrorOf, MirrorPods, planMirrorPods, type MirrorAction } from '../../../../agent/source/mirror-pods.ts';
import type { Pod, PodStatus } from '../../../../agent/pod/types.ts';
import type { ApiClient } from '../../../../controlplane/client/client.ts';
import type { Pod as ApiPod } from '../../../../controlplane/client/types.ts';
import { silentLogger } from '../../../../common/log.ts';
import { waitFor } from '../../../../common/wait.ts';

function staticPod(name: string, hash: string, namespace = 'default'): Pod {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace, uid: hash, labels: { app: name }, annotations: { 'kubernetes.io/config.source': 'file', 'kubernetes.io/config.hash': hash, 'io.moor.manifest.path': `/m/${name}.yaml` } },
    spec: { nodeName: 'n', containers: [{ name: 'c', image: 'i' }], restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst' } as Pod['spec'],
  };
}

function apiPod(name: string, o: { hash?: string; uid?: string; deleting?: boolean; namespace?: string } = {}): ApiPod {
  return {
    metadata: {
      name, namespace: o.namespace ?? 'default', uid: o.uid ?? `m-${name}`,
      ...(o.hash !== undefined ? { annotations: { 'kubernetes.io/config.mirror': o.hash } } : {}),
      ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
    },
    spec: { nodeName: 'n', containers: [] },
  };
}

t.test('planMirrorPods', async (t) => {
  const s = staticPod('web-n', 'h1');
  const brief = (as: MirrorAction[]): unknown[] => as.map((a) => (a.kind === 'delete' ? { kind: a.kind, name: a.name, uid: a.uid, reason: a.reason, recreate: a.pod !== undefined } : { kind: a.kind, name: a.pod.metadata.name }));
  const cases: [string, Pod[], ApiPod[], unknown[]][] = [
    ['no mirror yet: create', [s], [], [{ kind: 'create', name: 'web-n' }]],
    ['the current mirror: nothing', [s], [apiPod('web-n', { hash: 'h1' })], []],
    ['a mirror of the old manifest: replace', [s], [apiPod('web-n', { hash: 'h0' })], [{ kind: 'delete', name: 'web-n', uid: 'm-web-n', reason: 'outdated', recreate: true }]],
    ['a mirror being deleted: delete for good, then create', [s], [apiPod('web-n', { hash: 'h1', deleting: true })], [{ kind: 'delete', name: 'web-n', uid: 'm-web-n', reason: 'deleted', recreate: true }]],
    ['the name taken by a pod that is not a mirror', [s], [apiPod('web-n')], [{ kind: 'conflict', name: 'web-n' }]],
    ['a mirror without static pod: delete', [], [apiPod('old-n', { hash: 'h9' })], [{ kind: 'delete', name: 'old-n', uid: 'm-old-n', reason: 'orphaned', recreate: false }]],
    ['pods that are not mirrors are not ours', [], [apiPod('app-1')], []],
    ['same name in another namespace', [s], [apiPod('web-n', { hash: 'h1', namespace: 'other' })], [{ kind: 'create', name: 'web-n' }, { kind: 'delete', name: 'web-n', uid: 'm-web-n', reason: 'orphaned', recreate: false }]],
  ];
  for (const [name, statics, api, want] of cases) t.same(brief(planMirrorPods(statics, api)), want, name);
  t.ok(isMirrorOf(apiPod('web-n', { hash: 'h1' }), s), 'same hash: its mirror');
  t.notOk(isMirrorOf(apiPod('web-n', { hash: 'h1', deleting: true }), s), 'being deleted: no longer its mirror');
});

t.test('buildMirrorPod', async (t) => {
  const m = buildMirrorPod(staticPod('web-n', 'h1'), { name: 'n', uid: 'node-uid' });
  t.same(m.metadata, {
    name: 'web-n', namespace: 'default', labels: { app: 'web-n' },
    annotations: { 'kubernetes.io/config.source': 'file', 'kubernetes.io/config.hash': 'h1', 'io.moor.manifest.path': '/m/web-n.yaml', 'kubernetes.io/config.mirror': 'h1' },
    ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'node-uid', controller: true }],
  }, 'named as the static pod, annotated, owned by the Node, no UID of its own');
  t.equal(m.spec.nodeName, 'n');
  t.equal(m.status, undefined, 'no status: the agent writes it');
});

/** An ApiClient stand-in recording the calls MirrorPods makes. */
function fakeClient(nodeUid: string | undefined) {
  const calls: string[] = [];
  let n = 0;
  const client = {
    async tryGet() {
      calls.push('get node');
      return nodeUid === undefined ? undefined : { metadata: { name: 'n', uid: nodeUid } };
    },
    async create(_r: unknown, obj: ApiPod) {
      calls.push(`create ${obj.metadata.name} ${obj.metadata.annotations?.['kubernetes.io/config.mirror']}`);
      return { ...obj, metadata: { ...obj.metadata, uid: `m${++n}` } };
    },
    async delete(_r: unknown, name: string, opts: { gracePeriodSeconds?: number; preconditions?: { uid?: string } }) {
      calls.push(`delete ${name} ${opts.preconditions?.uid} grace ${opts.gracePeriodSeconds}`);
      return {};
    },
  };
  return { client: client as unknown as ApiClient, calls };
}

t.test('MirrorPods keeps the mirrors and hands the status over', async (t) => {
  const { client, calls } = fakeClient('node-uid');
  let cache: ApiPod[] = [];
  const written: string[] = [];
  const forgotten: string[] = [];
  const running: PodStatus = { phase: 'Running', conditions: [], containerStatuses: [], qosClass: 'BestEffort' };
  const mirrors = new MirrorPods({
    client, nodeName: 'n', log: silentLogger(), apiPods: () => cache, retryMs: 10, recreateDelayMs: 50,
    statusOf: () => running, writeStatus: (pod) => written.push(`${pod.metadata.uid}->${mirrors.mirrorOf(pod.metadata.uid)}`), forgetStatus: (uid) => forgotten.push(uid),
  });
  t.teardown(() => mirrors.stop());
  const s = staticPod('web-n', 'h1');
  mirrors.start([s]);
  await waitFor(() => written.length === 1, { timeoutMs: 2000, what: 'status handed to the mirror' });
  t.same(calls, ['get node', 'create web-n h1'], 'the Node read once, the mirror created');
  t.same(written, ['h1->m1'], 'the status goes to the new mirror before the cache shows it');
  // The cache lags behind: no second create meanwhile.
  mirrors.changed();
  cache = [apiPod('web-n', { hash: 'h1', uid: 'm1' })];
  mirrors.changed();
  await new Promise((r) => setTimeout(r, 20));
  t.same(calls, ['get node', 'create web-n h1'], 'created once');
  // Deleted by someone: deleted for good, made again a little later (the cache still showing the
  // deleted one meanwhile), the status handed to the new one.
  cache = [apiPod('web-n', { hash: 'h1', uid: 'm1', deleting: true })];
  const deletedAt = Date.now();
  mirrors.changed();
  await waitFor(() => written.length === 2, { timeoutMs: 2000, what: 'status handed to the new mirror' });
  t.ok(Date.now() - deletedAt >= 45, 'made again after the recreate delay, not at once');
  t.same(calls.slice(2), ['delete web-n m1 grace 0', 'create web-n h1'], 'deleted (grace 0, UID precondition), then created');
  t.same(written[1], 'h1->m2');
  // The manifest removed: the mirror goes, the status writer forgets the pod.
  cache = [apiPod('web-n', { hash: 'h1', uid: 'm2' })];
  mirrors.setStaticPods([]);
  await waitFor(() => forgotten.length === 1, { timeoutMs: 2000, what: 'status forgotten' });
  t.same(calls.slice(4), ['delete web-n m2 grace 0'], 'orphaned mirror deleted');
  t.same(forgotten, ['h1']);
});

t.test('MirrorPods makes no mirror while the Node does not exist', async (t) => {
  const { client, calls } = fakeClient(undefined);
  const mirrors = new MirrorPods({ client, nodeName: 'n', log: silentLogger(), apiPods: () => [], statusOf: () => undefined, writeStatus: () => undefined, forgetStatus: () => undefined });
  t.teardown(() => mirrors.stop());
  mirrors.start([staticPod('web-n', 'h1')]);
  await waitFor(() => calls.length === 1, { timeoutMs: 2000, what: 'node read' });
  mirrors.changed();
  await waitFor(() => calls.length === 2, { timeoutMs: 2000, what: 'node read again' });
  t.same(calls, ['get node', 'get node'], 'asked for the Node each time, created nothing');
  t.equal(mirrors.mirrorOf('h1'), undefined, 'no mirror to write the status to');
});
