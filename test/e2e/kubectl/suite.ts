// The kubectl scenarios, run by kubectl.test.ts with the kubectl on PATH (1.32 here) and by
// kubectl-1.20.test.ts with Debian's 1.20 client: everyday commands, their output and their errors, as
// users see them. Each run uses a fresh --cache-dir (kubectl 1.32 caches discovery 6 h).
import type { Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { ServerProcess } from '../../integration/controlplane/apiserver/harness.ts';
import { waitFor } from '../../../common/wait.ts';

const MANIFEST = (replicas: number, image = 'nginx:1.25') => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: ${image}
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: web}
data:
  mode: fast
`;

export async function runKubectlSuite(t: Test, opts: { bin: string; minor: number }): Promise<void> {
  const { bin, minor } = opts;
  const srv = new ServerProcess();
  const work = mkdtempSync(join(tmpdir(), 'moor-kubectl-'));
  t.teardown(async () => {
    await srv.dispose();
    rmSync(work, { recursive: true, force: true });
  });
  await srv.start();
  const env = { KUBECONFIG: srv.kubeconfig, HOME: work };
  const kubectl = async (args: string[], opts: { input?: string; reject?: boolean } = {}) => {
    const r = await execa(bin, ['--cache-dir', join(work, 'cache'), ...args], { env, input: opts.input, reject: false, timeout: 60_000 });
    if (opts.reject !== false && r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
    return { code: r.exitCode ?? -1, out: r.stdout, err: r.stderr };
  };
  const file = join(work, 'app.yaml');

  t.test('version and api-resources', async (t) => {
    const v = await kubectl(['version', '-o', 'json']);
    t.match(JSON.parse(v.out).serverVersion, { major: '1', minor: '32' });
    const res = await kubectl(['api-resources']);
    for (const line of [/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m, /^pods\s+po\s+v1\s+true\s+Pod$/m, /^leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease$/m, /^nodes\s+no\s+v1\s+false\s+Node$/m]) {
      t.match(res.out, line);
    }
  });

  t.test('apply twice, then a change: created, unchanged, configured', async (t) => {
    writeFileSync(file, MANIFEST(2));
    const first = await kubectl(['apply', '-f', file]);
    t.same(first.out.trim().split('\n'), ['deployment.apps/web created', 'service/web created', 'configmap/settings created']);
    const second = await kubectl(['apply', '-f', file]);
    t.same(second.out.trim().split('\n'), ['deployment.apps/web unchanged', 'service/web unchanged', 'configmap/settings unchanged']);
    writeFileSync(file, MANIFEST(3, 'nginx:1.26'));
    const third = await kubectl(['apply', '-f', file]);
    t.same(third.out.trim().split('\n'), ['deployment.apps/web configured', 'service/web unchanged', 'configmap/settings unchanged']);
    const d = JSON.parse((await kubectl(['get', 'deploy', 'web', '-o', 'json'])).out);
    t.equal(d.spec.replicas, 3);
    t.equal(d.spec.template.spec.containers[0].image, 'nginx:1.26');
    t.equal(d.metadata.generation, 2);
  });

  t.test('get: table, wide, yaml, json, selectors, all namespaces', async (t) => {
    const table = await kubectl(['get', 'deploy']);
    t.match(table.out, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nweb\s+0\/3\s+0\s+0\s+\d+s$/);
    const wide = await kubectl(['get', 'svc', 'web', '-o', 'wide']);
    t.match(wide.out, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\s+SELECTOR\nweb\s+ClusterIP\s+10\.96\.\d+\.\d+\s+<none>\s+80\/TCP\s+\d+s\s+app=web$/);
    const yaml = await kubectl(['get', 'cm', 'settings', '-o', 'yaml']);
    t.match(yaml.out, /^apiVersion: v1\ndata:\n  mode: fast\nkind: ConfigMap\n/);
    const json = JSON.parse((await kubectl(['get', 'cm', '-l', 'app=web', '-o', 'json'])).out);
    t.equal(json.kind, 'List');
    t.same(json.items.map((i: any) => i.metadata.name), ['settings']);
    const none = await kubectl(['get', 'cm', '-l', 'app=nothing']);
    t.equal(none.err.trim(), 'No resources found in default namespace.');
    const field = await kubectl(['get', 'cm', '--field-selector', 'metadata.name=settings', '-o', 'name']);
    t.equal(field.out.trim(), 'configmap/settings');
    const badField = await kubectl(['get', 'pods', '--field-selector', 'spec.foo=x'], { reject: false });
    t.not(badField.code, 0);
    t.match(badField.err, /field label not supported: spec.foo/);
    const all = await kubectl(['get', 'ns', '-A']);
    t.match(all.out, /^NAME\s+STATUS\s+AGE$/m);
    t.match(all.out, /^kube-system\s+Active\s+\d+s$/m);
    const allDeploy = await kubectl(['get', 'deploy', '-A']);
    t.match(allDeploy.out, /^NAMESPACE\s+NAME\s+READY/);
    const chunked = await kubectl(['get', 'ns', '--chunk-size=1', '-o', 'name']);
    t.equal(chunked.out.trim().split('\n').length, 4, 'limit/continue pages');
  });

  t.test('scale, label, annotate, set image, describe', async (t) => {
    t.equal((await kubectl(['scale', 'deploy', 'web', '--replicas=5'])).out.trim(), 'deployment.apps/web scaled');
    t.equal((await kubectl(['get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}'])).out, '5');
    t.equal((await kubectl(['label', 'cm', 'settings', 'tier=front'])).out.trim(), 'configmap/settings labeled');
    t.equal((await kubectl(['annotate', 'cm', 'settings', 'note=hello'])).out.trim(), 'configmap/settings annotated');
    t.equal((await kubectl(['get', 'cm', '-l', 'tier=front', '-o', 'name'])).out.trim(), 'configmap/settings');
    t.equal((await kubectl(['set', 'image', 'deploy/web', 'nginx=nginx:1.27'])).out.trim(), 'deployment.apps/web image updated');
    const desc = await kubectl(['describe', 'deploy', 'web']);
    t.match(desc.out, /^Name:\s+web$/m);
    t.match(desc.out, /^Replicas:\s+5 desired/m);
    t.match(desc.out, /^StrategyType:\s+RollingUpdate$/m);
    t.match(desc.out, /Image:\s+nginx:1\.27/);
    t.match(desc.out, /Port:\s+80\/TCP/);
    const logs = await kubectl(['logs', 'deploy/web'], { reject: false });
    t.not(logs.code, 0, 'no pods, no logs');
    const svc = await kubectl(['describe', 'svc', 'web']);
    t.match(svc.out, /^TargetPort:\s+8080\/TCP$/m);
  });

  t.test('cordon and uncordon a node', async (t) => {
    await kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.32.0' } } }) });
    t.equal((await kubectl(['cordon', 'n1'])).out.trim(), 'node/n1 cordoned');
    t.match((await kubectl(['get', 'nodes'])).out, /^n1\s+Ready,SchedulingDisabled\s+<none>\s+\d+s\s+v1\.32\.0$/m);
    t.equal((await kubectl(['uncordon', 'n1'])).out.trim(), 'node/n1 uncordoned');
    t.match((await kubectl(['get', 'no', 'n1'])).out, /^n1\s+Ready\s+<none>/m);
    t.equal((await kubectl(['taint', 'nodes', 'n1', 'dedicated=db:NoSchedule'])).out.trim(), 'node/n1 tainted');
    t.equal((await kubectl(['taint', 'nodes', 'n1', 'other=x:NoExecute'])).out.trim(), 'node/n1 tainted');
    t.equal((await kubectl(['taint', 'nodes', 'n1', 'dedicated:NoSchedule-'])).out.trim(), 'node/n1 untainted');
    t.same(JSON.parse((await kubectl(['get', 'node', 'n1', '-o', 'jsonpath={.spec.taints}'])).out), [{ effect: 'NoExecute', key: 'other', value: 'x' }]);
    const desc = await kubectl(['describe', 'node', 'n1']);
    t.match(desc.out, /^Unschedulable:\s+false$/m);
    t.match(desc.out, /^Taints:\s+other=x:NoExecute$/m);
  });

  t.test('replace with a stale object: Conflict', async (t) => {
    const stale = (await kubectl(['get', 'cm', 'settings', '-o', 'yaml'])).out;
    await kubectl(['label', 'cm', 'settings', 'rev=2']);
    const staleFile = join(work, 'stale.yaml');
    writeFileSync(staleFile, stale);
    const r = await kubectl(['replace', '-f', staleFile], { reject: false });
    t.equal(r.code, 1);
    t.match(r.err, /Error from server \(Conflict\): error when replacing ".*stale\.yaml": Operation cannot be fulfilled on configmaps "settings": the object has been modified/);
    const dup = await kubectl(['create', '-f', staleFile], { reject: false });
    t.match(dup.err, /Error from server \(AlreadyExists\): error when creating ".*stale\.yaml": configmaps "settings" already exists/);
  });

  t.test('errors as kubectl prints them', async (t) => {
    const nf = await kubectl(['get', 'deploy', 'nope'], { reject: false });
    t.equal(nf.err.trim(), 'Error from server (NotFound): deployments.apps "nope" not found');
    const inv = await kubectl(['create', 'deployment', 'bad', '--image=x', '--dry-run=client', '-o', 'json']);
    const badDeploy = JSON.parse(inv.out);
    badDeploy.spec.template.spec.containers[0].image = '';
    const invalid = await kubectl(['create', '-f', '-'], { input: JSON.stringify(badDeploy), reject: false });
    t.match(invalid.err, /The Deployment "bad" is invalid: spec\.template\.spec\.containers\[0\]\.image: Required value/);
    const anon = await execa(bin, ['--cache-dir', join(work, 'cache-bogus'), '--token', 'bogus', 'get', 'pods'], { env, reject: false, timeout: 30_000 });
    t.match(anon.stderr, /error: You must be logged in to the server \((Unauthorized|the server has asked for the client to provide credentials)\)/);
  });

  t.test('get -w streams changes', async (t) => {
    const child = spawn(bin, ['--cache-dir', join(work, 'cache'), 'get', 'cm', '-w', '-l', 'watch=me'], { env: { ...process.env, ...env } });
    t.teardown(() => { child.kill('SIGTERM'); });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    await kubectl(['create', 'configmap', 'watched', '--from-literal=a=b', '--dry-run=client', '-o', 'json']).then(async (r) => {
      const cm = JSON.parse(r.out);
      cm.metadata.labels = { watch: 'me' };
      // Give the watch a moment to be established: wait for its first (empty) list to print nothing, then write.
      await new Promise((res) => setTimeout(res, 1000));
      await kubectl(['create', '-f', '-'], { input: JSON.stringify(cm) });
    });
    await waitFor(() => /^watched\s+1\s+\d+s$/m.test(out), { timeoutMs: 15_000, what: 'kubectl get -w to print the new config map' });
    await kubectl(['label', 'cm', 'watched', 'x=y']);
    await waitFor(() => out.trim().split('\n').filter((l) => l.startsWith('watched')).length >= 2, { timeoutMs: 15_000, what: 'the second line' });
    t.match(out, /^NAME\s+DATA\s+AGE$/m);
  });

  t.test(minor >= 32 ? 'typed create commands send protobuf' : 'typed create commands', async (t) => {
    const cmds: [string[], string][] = [
      [['create', 'namespace', 'team-a'], 'namespace/team-a created'],
      [['create', 'deployment', 'api', '--image=nginx:1.25', '--replicas=2', ...(minor >= 32 ? ['--port=80'] : []), '-n', 'team-a'], 'deployment.apps/api created'],
      [['create', 'configmap', 'cfg', '--from-literal=a=b', '-n', 'team-a'], 'configmap/cfg created'],
      [['create', 'secret', 'generic', 'sec', '--from-literal=k=v', '-n', 'team-a'], 'secret/sec created'],
      [['create', 'serviceaccount', 'robot', '-n', 'team-a'], 'serviceaccount/robot created'],
      [['create', 'service', 'nodeport', 'api', '--tcp=80:8080', '-n', 'team-a'], 'service/api created'],
    ];
    for (const [args, want] of cmds) t.equal((await kubectl(args)).out.trim(), want, args.slice(0, 2).join(' '));
    const d = JSON.parse((await kubectl(['get', 'deploy', 'api', '-n', 'team-a', '-o', 'json'])).out);
    t.match(d.spec, { replicas: 2, selector: { matchLabels: { app: 'api' } }, template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }] } } });
    if (minor >= 32) t.match(d.spec.template.spec.containers[0].ports, [{ containerPort: 80, protocol: 'TCP' }]);
    t.equal((await kubectl(['get', 'secret', 'sec', '-n', 'team-a', '-o', 'jsonpath={.data.k}'])).out, Buffer.from('v').toString('base64'));
    const svc = JSON.parse((await kubectl(['get', 'svc', 'api', '-n', 'team-a', '-o', 'json'])).out);
    t.match(svc.spec, { type: 'NodePort', ports: [{ port: 80, targetPort: 8080, protocol: 'TCP', nodePort: Number }] });
  });

  t.test('fieldValidation: Strict rejects typos, warn and false accept', { skip: minor < 25 ? 'kubectl before 1.25 does not send fieldValidation' : undefined }, async (t) => {
    const typo = join(work, 'typo.yaml');
    writeFileSync(typo, MANIFEST(2).split('---')[0].replace('replicas: 2', 'replica: 2').replace('name: web', 'name: typo'));
    const strict = await kubectl(['apply', '-f', typo], { reject: false });
    t.not(strict.code, 0);
    t.match(strict.err, /strict decoding error: unknown field "spec\.replica"/);
    const warn = await kubectl(['apply', '--validate=warn', '-f', typo]);
    t.match(warn.err, /Warning: unknown field "spec\.replica"/);
    t.equal((await kubectl(['get', 'deploy', 'typo', '-o', 'jsonpath={.spec.replicas}'])).out, '1', 'the typo was dropped');
    await kubectl(['delete', 'deploy', 'typo']);
    const ignore = await kubectl(['create', '--validate=false', '-f', typo]);
    t.equal(ignore.err, '');
    await kubectl(['delete', 'deploy', 'typo']);
  });

  t.test('node identities through kubectl', async (t) => {
    const token = srv.createNodeToken('n1');
    const asNode = async (args: string[]) => execa(bin, ['--cache-dir', join(work, 'cache-node'), '--token', token, ...args], { env, reject: false, timeout: 30_000 });
    t.equal((await asNode(['get', 'nodes', '-o', 'name'])).stdout.trim(), 'node/n1');
    const own = await asNode(['label', 'node', 'n1', 'zone=a']);
    t.equal(own.exitCode, 0, own.stderr);
    await kubectl(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } }) });
    const other = await asNode(['label', 'node', 'n2', 'zone=b']);
    t.equal(other.exitCode, 1);
    t.match(other.stderr, /Error from server \(Forbidden\): nodes "n2" is forbidden: User "system:node:n1" cannot patch resource "nodes" in API group "" at the cluster scope/);
    const deploys = await asNode(['delete', 'deploy', '--all', '-n', 'team-a']);
    t.match(deploys.stderr, /Forbidden/);
    t.equal((await asNode(['auth', 'can-i', 'patch', 'nodes/n2'])).stdout.trim().split(/\s/)[0], 'no');
    t.equal((await asNode(['auth', 'can-i', 'patch', 'nodes/n1'])).stdout.trim(), 'yes');
    t.equal((await kubectl(['auth', 'can-i', 'delete', 'nodes'])).out.trim(), 'yes');
    if (minor >= 28) t.match((await asNode(['auth', 'whoami'])).stdout, /^Username\s+system:node:n1$/m);
  });

  t.test('describe pod shows its events; get events; wait returns when the condition holds', async (t) => {
    await kubectl(['run', 'evented', '--image=busybox:1.36', '--restart=Never', '--labels=app=ev']);
    const uid = (await kubectl(['get', 'pod', 'evented', '-o', 'jsonpath={.metadata.uid}'])).out;
    const event = {
      apiVersion: 'v1', kind: 'Event', metadata: { name: 'evented.1' }, type: 'Normal', reason: 'Scheduled', message: 'Successfully assigned default/evented to n1',
      involvedObject: { kind: 'Pod', name: 'evented', namespace: 'default', uid, apiVersion: 'v1' }, source: { component: 'default-scheduler' },
      firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), count: 1,
    };
    await kubectl(['create', '-f', '-'], { input: JSON.stringify(event) });
    const desc = await kubectl(['describe', 'pod', 'evented']);
    t.match(desc.out, /^Events:\n\s+Type\s+Reason\s+Age\s+From\s+Message\n/m);
    t.match(desc.out, /Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned default\/evented to n1/);
    t.match(desc.out, /^Status:\s+Pending$/m);
    const events = await kubectl(['get', 'events']);
    t.match(events.out, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE\n\S+\s+Normal\s+Scheduled\s+pod\/evented\s+Successfully assigned/m);
    if (minor >= 23) {
      const started = Date.now();
      const w = await kubectl(['wait', '--for=jsonpath={.status.phase}=Pending', 'pod/evented', '--timeout=20s']);
      t.equal(w.out.trim(), 'pod/evented condition met');
      t.ok(Date.now() - started < 10_000, 'wait returns at once when the condition already holds');
    }
  });

  t.test('delete -f waits until things are gone', async (t) => {
    const r = await kubectl(['delete', '-f', file]);
    t.same(r.out.trim().split('\n'), ['deployment.apps "web" deleted', 'service "web" deleted', 'configmap "settings" deleted']);
    const after = await kubectl(['get', 'deploy,svc,cm', '-l', 'app=web']);
    t.equal(after.err.trim(), 'No resources found in default namespace.');
    await kubectl(['run', 'solo', '--image=busybox', '--restart=Never']);
    const started = Date.now();
    t.equal((await kubectl(['delete', 'pod', 'solo'])).out.trim(), 'pod "solo" deleted');
    t.ok(Date.now() - started < 15_000, 'unscheduled pod deletion does not hang');
  });
}
