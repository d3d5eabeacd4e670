// The Deployment story through real kubectl against `moor server` with its scheduler and controllers:
// apply a 3-replica Deployment and a Service on three fake nodes, scale up and down, set image and
// watch `rollout status` complete, read `rollout history`, `rollout undo` back onto the first
// ReplicaSet, Service endpoints that follow readiness, and delete with cascade. The test plays the
// node agents (fake-nodes.ts).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../../../../common/wait.ts';
import { PODS } from '../../../../controlplane/client/resources.ts';
import { ServerProcess } from '../apiserver/harness.ts';
import { FakeNodes, Kubectl } from './fake-nodes.ts';

const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

const MANIFEST = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    kubernetes.io/change-cause: first
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: httpd
        image: busybox:1.36
        ports:
        - {name: http, containerPort: 8080}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
`;

t.test('deployment lifecycle with kubectl', { skip: hasKubectl ? undefined : 'needs kubectl on PATH' }, async (t) => {
  const srv = new ServerProcess({ env: { MOOR_CONTROLPLANE_ARGS: '' } });
  t.teardown(() => srv.dispose());
  await srv.start();
  const kubectl = new Kubectl(srv);
  t.teardown(() => kubectl.dispose());
  const nodes = new FakeNodes(srv);
  t.teardown(() => nodes.stop());
  await nodes.start();
  for (const name of ['n1', 'n2', 'n3']) await nodes.addNode({ name });

  const pods = async (): Promise<any[]> => (await kubectl.json(['get', 'pods', '-l', 'app=web'])).items;
  const settled = (n: number) => waitFor(async () => {
    const items = await pods();
    return items.length === n && items.every((p) => p.status?.phase === 'Running' && p.metadata.deletionTimestamp === undefined) ? items : undefined;
  }, { timeoutMs: 20_000, what: `${n} running web pods` });
  const rolloutStatus = async () => (await kubectl.run(['rollout', 'status', 'deployment/web', '--timeout=30s'], { timeoutMs: 40_000 })).out.trim().split('\n').pop();
  const replicaSets = async (): Promise<any[]> => (await kubectl.json(['get', 'rs', '-l', 'app=web'])).items;

  let firstRs = '';
  await t.test('apply: 3 pods created and bound across the 3 nodes, rollout status completes', async (t) => {
    const file = join(kubectl.dir, 'web.yaml');
    writeFileSync(file, MANIFEST);
    t.same((await kubectl.run(['apply', '-f', file])).out.trim().split('\n'), ['deployment.apps/web created', 'service/web created']);
    const items = await settled(3);
    t.same(new Set(items.map((p) => p.spec.nodeName)).size, 3, 'one pod per node');
    t.equal(await rolloutStatus(), 'deployment "web" successfully rolled out');
    const rss = await replicaSets();
    t.equal(rss.length, 1);
    firstRs = rss[0].metadata.name;
    t.match(firstRs, /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
    t.equal(rss[0].metadata.labels['pod-template-hash'], firstRs.slice(4));
    t.equal(rss[0].metadata.annotations['deployment.kubernetes.io/revision'], '1');
    t.match(items[0].metadata.ownerReferences, [{ kind: 'ReplicaSet', name: firstRs, controller: true }]);
    t.match(items[0].metadata.name, new RegExp(`^${firstRs}-[a-z0-9]{5}$`));
    t.match((await kubectl.run(['get', 'deploy', 'web'])).out, /^web\s+3\/3\s+3\s+3\s+\d+s$/m);
    const d = await kubectl.json(['get', 'deploy', 'web']);
    t.match(d.status, { observedGeneration: 1, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 });
    t.match(d.status.conditions, [{ type: 'Available', status: 'True' }, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }]);
    const events = (await kubectl.run(['get', 'events', '--field-selector', `involvedObject.name=${items[0].metadata.name}`])).out;
    t.match(events, /Normal\s+Scheduled\s+pod\/\S+\s+Successfully assigned default\/\S+ to n\d/);
    t.match((await kubectl.run(['describe', 'deploy', 'web'])).out, /ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set web-\S+ from 0 to 3/);
  });

  await t.test('service endpoints list the ready pods and follow readiness', async (t) => {
    const items = await pods();
    const ips = items.map((p) => p.status.podIP).sort();
    const ep = await waitFor(async () => {
      const e = await kubectl.json(['get', 'endpoints', 'web']);
      return (e.subsets?.[0]?.addresses ?? []).length === 3 ? e : undefined;
    }, { timeoutMs: 10_000, what: 'three ready endpoints' });
    t.same(ep.subsets[0].addresses.map((a: any) => a.ip).sort(), ips);
    t.same(ep.subsets[0].ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    t.match(ep.subsets[0].addresses[0], { nodeName: /^n\d$/, targetRef: { kind: 'Pod', namespace: 'default' } });
    const victim = items[0];
    await nodes.setReady('default', victim.metadata.name, false);
    const after = await waitFor(async () => {
      const e = await kubectl.json(['get', 'endpoints', 'web']);
      return e.subsets?.[0]?.notReadyAddresses?.length === 1 ? e : undefined;
    }, { timeoutMs: 10_000, what: 'one not-ready endpoint' });
    t.equal(after.subsets[0].notReadyAddresses[0].ip, victim.status.podIP);
    t.equal(after.subsets[0].addresses.length, 2);
    t.match((await kubectl.run(['get', 'ep', 'web'])).out, /^web\s+10\.250\.\d+\.\d+:8080,10\.250\.\d+\.\d+:8080\s+\d+s$/m);
    await nodes.setReady('default', victim.metadata.name, true);
    await waitFor(async () => (await kubectl.json(['get', 'endpoints', 'web'])).subsets?.[0]?.addresses?.length === 3, { timeoutMs: 10_000, what: 'ready again' });
  });

  await t.test('scale to 5 and back to 3', async (t) => {
    t.equal((await kubectl.run(['scale', 'deploy', 'web', '--replicas=5'])).out.trim(), 'deployment.apps/web scaled');
    const five = await settled(5);
    t.equal(await rolloutStatus(), 'deployment "web" successfully rolled out');
    t.ok(new Set(five.map((p) => p.spec.nodeName)).size === 3, 'spread over every node');
    await kubectl.run(['scale', 'deploy', 'web', '--replicas=3']);
    await settled(3);
    t.equal((await replicaSets()).length, 1, 'scaling makes no new replica set');
    await waitFor(async () => (await kubectl.json(['get', 'deploy', 'web'])).status.availableReplicas === 3, { timeoutMs: 10_000, what: 'status back to 3' });
  });

  await t.test('set image: a new replica set, rollout status completes, history has 2 revisions', async (t) => {
    t.equal((await kubectl.run(['set', 'image', 'deploy/web', 'httpd=busybox:1.37'])).out.trim(), 'deployment.apps/web image updated');
    t.equal(await rolloutStatus(), 'deployment "web" successfully rolled out');
    const items = await settled(3);
    t.ok(items.every((p) => p.spec.containers[0].image === 'busybox:1.37'), 'every pod runs the new image');
    const rss = await replicaSets();
    t.equal(rss.length, 2);
    const second = rss.find((r: any) => r.metadata.name !== firstRs);
    t.equal(second.spec.replicas, 3);
    t.equal(rss.find((r: any) => r.metadata.name === firstRs).spec.replicas, 0);
    t.equal(second.metadata.annotations['deployment.kubernetes.io/revision'], '2');
    const history = (await kubectl.run(['rollout', 'history', 'deploy/web'])).out;
    t.match(history, /^REVISION\s+CHANGE-CAUSE\n1\s+first\n2\s+first\n*$/m);
    t.match((await kubectl.run(['rollout', 'history', 'deploy/web', '--revision=1'])).out, /Image:\s+busybox:1\.36/);
  });

  await t.test('rollout undo returns to the first template on the first replica set', async (t) => {
    t.equal((await kubectl.run(['rollout', 'undo', 'deploy/web'])).out.trim(), 'deployment.apps/web rolled back');
    t.equal(await rolloutStatus(), 'deployment "web" successfully rolled out');
    const items = await settled(3);
    t.ok(items.every((p) => p.spec.containers[0].image === 'busybox:1.36'));
    const rss = await replicaSets();
    t.equal(rss.length, 2, 'no third replica set');
    const first = rss.find((r: any) => r.metadata.name === firstRs);
    t.equal(first.spec.replicas, 3, 'the old replica set is scaled up again');
    t.equal(first.metadata.annotations['deployment.kubernetes.io/revision'], '3');
    const revisions = (await kubectl.run(['rollout', 'history', 'deploy/web'])).out.trim().split('\n').filter((l) => /^\d/.test(l)).map((l) => l.split(/\s+/)[0]);
    t.same(revisions, ['2', '3']);
    t.ok(items.every((p) => p.metadata.ownerReferences[0].name === firstRs));
  });

  await t.test('pause holds a change back; resume rolls it out; rollout restart makes a new replica set', async (t) => {
    t.equal((await kubectl.run(['rollout', 'pause', 'deploy/web'])).out.trim(), 'deployment.apps/web paused');
    await kubectl.run(['set', 'image', 'deploy/web', 'httpd=busybox:1.35']);
    await waitFor(async () => (await kubectl.json(['get', 'deploy', 'web'])).status.conditions?.some((c: any) => c.reason === 'DeploymentPaused'), { timeoutMs: 10_000, what: 'DeploymentPaused condition' });
    t.equal((await replicaSets()).length, 2, 'no replica set while paused');
    await kubectl.run(['rollout', 'resume', 'deploy/web']);
    t.equal(await rolloutStatus(), 'deployment "web" successfully rolled out');
    t.ok((await settled(3)).every((p) => p.spec.containers[0].image === 'busybox:1.35'));
    t.equal((await kubectl.run(['rollout', 'restart', 'deploy/web'])).out.trim(), 'deployment.apps/web restarted');
    t.equal(await rolloutStatus(), 'deployment "web" successfully rolled out');
    const rss = await replicaSets();
    t.equal(rss.length, 4);
    t.equal(rss.filter((r: any) => r.spec.replicas > 0).length, 1, 'one active replica set');
  });

  await t.test('delete the deployment: replica sets and pods go', async (t) => {
    t.equal((await kubectl.run(['delete', 'deploy', 'web', '--timeout=30s'], { timeoutMs: 40_000 })).out.trim(), 'deployment.apps "web" deleted');
    await waitFor(async () => (await replicaSets()).length === 0 && (await pods()).length === 0, { timeoutMs: 20_000, what: 'replica sets and pods gone' });
    t.pass('garbage collected');
  });

  await t.test('Recreate: old pods are gone before new ones start; revisionHistoryLimit prunes', async (t) => {
    const file = join(kubectl.dir, 'batch.yaml');
    const manifest = (image: string) => `apiVersion: apps/v1
kind: Deployment
metadata: {name: batch}
spec:
  replicas: 2
  revisionHistoryLimit: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: batch}}
  template:
    metadata: {labels: {app: batch}}
    spec:
      containers: [{name: c, image: "${image}"}]
`;
    writeFileSync(file, manifest('busybox:1.36'));
    await kubectl.run(['apply', '-f', file]);
    await kubectl.run(['rollout', 'status', 'deployment/batch', '--timeout=30s'], { timeoutMs: 40_000 });
    // Watch the pods while the template changes: no moment with old and new pods both alive.
    const client = nodes.client;
    const w = await client.watch(PODS, { namespace: 'default', labelSelector: 'app=batch' });
    const alive = new Map<string, string>();
    let overlap = false;
    const watching = (async () => {
      for await (const ev of w) {
        const name = String(ev.object.metadata.name);
        if (ev.type === 'DELETED') alive.delete(name); else alive.set(name, String(ev.object.spec.containers[0].image));
        if (new Set(alive.values()).size > 1) overlap = true;
      }
    })();
    for (const image of ['busybox:1.37', 'busybox:1.35']) {
      writeFileSync(file, manifest(image));
      await kubectl.run(['apply', '-f', file]);
      await kubectl.run(['rollout', 'status', 'deployment/batch', '--timeout=30s'], { timeoutMs: 40_000 });
    }
    w.close();
    await watching;
    t.notOk(overlap, 'never old and new pods at once');
    const rss = (await kubectl.json(['get', 'rs', '-l', 'app=batch'])).items;
    t.equal(rss.length, 2, 'the current one plus one old (revisionHistoryLimit 1)');
    await kubectl.run(['delete', 'deploy', 'batch', '--timeout=30s'], { timeoutMs: 40_000 });
  });
});
