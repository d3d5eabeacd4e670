// Mirror pods of a joined agent (in process, on the containerd rig) against a real `moor server`
// with its controllers on (garbage collector included): the static pod shows in `kubectl get pods`
// as a Running 1/1 mirror owned by the Node, `kubectl logs` works on it; deleting the mirror makes a new one and leaves the
// container alone; a manifest edit replaces the mirror; removing the manifest deletes it. The
// node's token may create its own mirror pod and nothing else (NodeRestriction, over HTTPS).

import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import t from 'tap';
import { parse as parseYaml, stringify } from 'yaml';
import { createCriClient } from '../../../agent/cri/client.ts';
import { waitFor } from '../../../common/wait.ts';
import { startContainerdRig, IMAGES } from '../../helpers/containerd-rig.ts';
import { ServerProcess } from '../controlplane/apiserver/harness.ts';
import { NODE, podManifest, sleeper, startInProcessAgent, writeManifest } from './harness.ts';

const run = promisify(execFile);
const skip = process.getuid?.() === 0 ? false : 'needs root (containerd)';
const MIRROR = `static-${NODE}`;

t.test('static pods appear as mirror pods and the mirrors follow the manifests', { skip, timeout: 120_000 }, async (t) => {
  const rig = await startContainerdRig();
  t.teardown(() => rig.stop());
  // Info level: the garbage collector's deletions are logged, and checked at the end.
  const server = new ServerProcess({ env: { MOOR_CONTROLPLANE_ARGS: '--disable-scheduler', MOOR_LOG_LEVEL: 'info' } });
  t.teardown(() => server.dispose());
  await server.start();
  const kc = parseYaml(await readFile(server.kubeconfig, 'utf8')) as { users: { user: { token: string } }[] };
  const nodeToken = server.createNodeToken(NODE);
  kc.users[0].user.token = nodeToken;
  const nodeKubeconfig = `${server.dataDir}/node.kubeconfig`;
  await writeFile(nodeKubeconfig, stringify(kc), { mode: 0o600 });
  const kubectl = async (args: string[]): Promise<string> => (await run('kubectl', ['--kubeconfig', server.kubeconfig, ...args], { timeout: 40_000 })).stdout;
  const getMirror = async (): Promise<any> => {
    const r = await server.request(`/api/v1/namespaces/default/pods/${MIRROR}`);
    return r.status === 200 ? r.body : undefined;
  };
  const runningMirror = (what: string, check: (p: any) => boolean = () => true): Promise<any> => waitFor(async () => {
    const p = await getMirror();
    const ready = p?.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True';
    return p !== undefined && p.status?.phase === 'Running' && ready && p.metadata.deletionTimestamp === undefined && check(p) ? p : undefined;
  }, { timeoutMs: 30_000, intervalMs: 100, what });

  const agent = await startInProcessAgent(t, rig, { kubeconfig: nodeKubeconfig, 'node-status-update-frequency': '2s' });
  const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 10_000 });
  t.teardown(() => cri.close());
  const containers = (): Promise<{ id: string }[]> => cri.listContainers({ state: 'running', labelSelector: { 'io.kubernetes.pod.name': MIRROR } });

  // The static pod and its mirror: Running 1/1 as kubectl shows it, owned by the Node.
  const started = Date.now();
  await writeManifest(agent.dirs, 'static.yaml', podManifest('static', { terminationGracePeriodSeconds: 5, containers: [{ name: 'main', image: IMAGES.busybox, command: sleeper('echo hello from static') }] }));
  const first = await runningMirror('mirror pod Running and ready');
  t.comment(`manifest written to mirror pod Running and ready: ${Date.now() - started} ms`);
  const staticPod = agent.agent.listPods().find((p) => p.metadata.name === MIRROR)!;
  const node = JSON.parse(await kubectl(['get', 'node', NODE, '-o', 'json'])) as any;
  t.equal(first.metadata.annotations['kubernetes.io/config.mirror'], staticPod.metadata.uid, 'mirror annotation: the static pod config hash');
  t.equal(first.metadata.annotations['kubernetes.io/config.hash'], staticPod.metadata.uid, 'config hash annotation');
  t.equal(first.metadata.annotations['kubernetes.io/config.source'], 'file', 'config source annotation');
  t.same(first.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: NODE, uid: node.metadata.uid, controller: true }], 'owned by the Node');
  t.equal(first.spec.nodeName, NODE, 'bound to the node');
  t.equal(first.spec.serviceAccountName, undefined, 'no service account');
  t.not(first.metadata.uid, staticPod.metadata.uid, 'the mirror has its own UID');
  t.match(await kubectl(['get', 'pods', '-A']), new RegExp(`default\\s+${MIRROR}\\s+1/1\\s+Running\\s+0`), 'kubectl get pods -A: 1/1 Running');
  t.match(await waitFor(async () => {
    const out = await kubectl(['logs', MIRROR]).catch(() => '');
    return out.includes('hello') ? out : undefined;
  }, { timeoutMs: 10_000, intervalMs: 250, what: 'kubectl logs of the mirror' }), 'hello from static', 'kubectl logs of the mirror pod: the static pod output');
  const containerId = first.status.containerStatuses[0].containerID as string;
  t.same((await containers()).map((c) => `containerd://${c.id}`), [containerId], 'one container runs, the one the mirror reports');
  t.equal(agent.agent.listPods().filter((p) => p.metadata.name === MIRROR).length, 1, 'the agent runs the pod once (the mirror is not a second pod)');

  // kubectl delete of the mirror: the object goes, a new mirror comes, the container stays.
  const deleted = Date.now();
  await kubectl(['delete', 'pod', MIRROR]);
  const deleteMs = Date.now() - deleted;
  t.comment(`kubectl delete of the mirror pod returned in ${deleteMs} ms`);
  const second = await runningMirror('mirror pod made again', (p) => p.metadata.uid !== first.metadata.uid);
  t.comment(`deleted to a new mirror Running: ${Date.now() - deleted} ms`);
  t.ok(deleteMs < 20_000, 'the deletion completes (not the 30 s grace period of a pod nobody finishes)');
  t.equal(second.status.containerStatuses[0].containerID, containerId, 'same container');
  t.equal(second.status.containerStatuses[0].restartCount, 0, 'restart count 0');
  t.same((await containers()).map((c) => `containerd://${c.id}`), [containerId], 'the runtime still runs that one container');
  // The garbage collector left the mirror alone: its owner, the Node, is there.
  t.equal((await getMirror())?.metadata.uid, second.metadata.uid, 'the mirror stays (not collected)');

  // A manifest edit: a new static pod, a new mirror with the new hash.
  await writeManifest(agent.dirs, 'static.yaml', podManifest('static', { terminationGracePeriodSeconds: 5, containers: [{ name: 'main', image: IMAGES.busybox, command: sleeper('echo hello from static; echo edited') }] }));
  const third = await runningMirror('mirror replaced after the manifest edit', (p) => p.metadata.annotations['kubernetes.io/config.mirror'] !== staticPod.metadata.uid);
  const edited = agent.agent.listPods().find((p) => p.metadata.name === MIRROR && p.metadata.uid !== staticPod.metadata.uid)!;
  t.equal(third.metadata.annotations['kubernetes.io/config.mirror'], edited.metadata.uid, 'the mirror carries the new hash');
  t.not(third.metadata.uid, second.metadata.uid, 'a new mirror object');
  t.not(third.status.containerStatuses[0].containerID, containerId, 'reporting the new container');

  // The manifest removed: the mirror goes, and so do the containers.
  await rm(`${agent.dirs.manifests}/static.yaml`);
  await waitFor(async () => (await getMirror()) === undefined, { timeoutMs: 30_000, intervalMs: 100, what: 'mirror pod gone' });
  t.pass('mirror deleted with its manifest');
  await waitFor(async () => (await containers()).length === 0, { timeoutMs: 30_000, intervalMs: 100, what: 'static pod containers gone' });
  t.pass('static pod stopped');

  // NodeRestriction over HTTPS with the node's own token.
  const mirrorBody = (o: { name: string; nodeName?: string; mirror?: boolean; spec?: object; ownerUid?: string }): object => ({
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: o.name, namespace: 'default',
      annotations: o.mirror === false ? {} : { 'kubernetes.io/config.mirror': 'h' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: NODE, uid: o.ownerUid ?? node.metadata.uid, controller: true }],
    },
    spec: { nodeName: o.nodeName ?? NODE, containers: [{ name: 'c', image: IMAGES.busybox }], ...o.spec },
  });
  const create = (body: object): ReturnType<ServerProcess['request']> => server.request('/api/v1/namespaces/default/pods', { method: 'POST', body, token: nodeToken });
  const cases: [string, object, number, RegExp?][] = [
    ['not a mirror pod', mirrorBody({ name: 'nr-plain', mirror: false }), 403, /can only create mirror pods/],
    ['a mirror for another node', mirrorBody({ name: 'nr-other', nodeName: 'elsewhere' }), 403, /spec.nodeName set to itself/],
    ['a secret volume', mirrorBody({ name: 'nr-secret', spec: { volumes: [{ name: 'v', secret: { secretName: 's' } }] } }), 403, /reference secrets/],
    ['another node UID', mirrorBody({ name: 'nr-uid', ownerUid: 'not-the-node' }), 403, /UID mismatch/],
    ['its own mirror pod', mirrorBody({ name: 'nr-own' }), 201],
  ];
  for (const [name, body, code, message] of cases) {
    const r = await create(body);
    t.equal(r.status, code, `${name}: ${code}`);
    if (message !== undefined) t.match(r.body.message, message, `${name}: the reason`);
  }
  // The agent deletes a mirror no static pod of its own explains.
  await waitFor(async () => (await server.request('/api/v1/namespaces/default/pods/nr-own')).status === 404, { timeoutMs: 20_000, intervalMs: 100, what: 'orphaned mirror deleted by the agent' });
  t.pass('a mirror without a static pod is deleted');
  const collected = server.logs.split('\n').filter((l) => l.includes('garbage-collector') && l.includes('deleting') && l.includes(MIRROR));
  t.same(collected, [], 'the garbage collector never deleted a mirror pod (its owner, the Node, exists)');
});
