// The executor against the in-memory CRI runtime: what it calls, in which order, what it leaves
// behind, and the StepResult it reports for each step.

import t, { type Test } from 'tap';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { KeyedBackoff } from '../../../../common/backoff.ts';
import { createFakeCri, type FakeCri } from '../../../../agent/cri/fake.ts';
import { GrpcCode } from '../../../../agent/cri/errors.ts';
import { PodInspector } from '../../../../agent/pod/inspect.ts';
import { ANNOTATION_RESTART_COUNT, computeContainerHash, computeSandboxHash } from '../../../../agent/pod/labels.ts';
import { NO_PROBES, planPodSync } from '../../../../agent/pod/plan.ts';
import { computeQosClass } from '../../../../agent/pod/resources.ts';
import { computeBackoffView } from '../../../../agent/pod/restart.ts';
import type { WaitingReason } from '../../../../agent/pod/status.ts';
import { applyPodActions, newImageCalls, terminatePod, type StepResult, type SyncContext } from '../../../../agent/pod/sync.ts';
import type { Pod } from '../../../../agent/pod/types.ts';
import { silentLogger } from '../../../../common/log.ts';
import { VolumeManager } from '../../../../agent/volumes.ts';
import { makePod } from '../../../fixtures/agent/pods.ts';

const IMAGE = 'reg.example/app:1.0';

async function setup(t: Test, opts: { registry?: string[]; images?: string[] } = {}) {
  const dir = await mkdtemp(`${tmpdir()}/moor-sync-`);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let now = 1_000_000;
  const cri = createFakeCri({ images: opts.images ?? [IMAGE], ...(opts.registry ? { registry: opts.registry } : {}), now: () => now });
  const ctx: SyncContext = {
    cri,
    log: silentLogger(),
    volumes: new VolumeManager({ rootDir: `${dir}/root`, log: silentLogger() }),
    node: { name: 'node1', ip: '192.0.2.1', memoryBytes: 2 ** 32, cpuMilli: 2000, resolvConf: 'nameserver 192.0.2.53\n' },
    podLogsDir: `${dir}/logs`,
    cgroupRoot: '/moor-unit-test-never-created',
    crashBackoff: new KeyedBackoff({ initialMs: 10_000, maxMs: 300_000, now: () => now }),
    imageBackoff: new KeyedBackoff({ initialMs: 10_000, maxMs: 300_000, now: () => now }),
    images: newImageCalls(),
    now: () => now,
  };
  const inspector = new PodInspector(cri);
  const reasons = new Map<string, WaitingReason>();
  /** One sync: inspect, plan, apply. */
  const syncOnce = async (pod: Pod): Promise<StepResult[]> => {
    const seen = await inspector.inspect(pod.metadata.uid);
    const hashes = new Map([...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => [c.name, computeContainerHash(c)]));
    const actions = planPodSync({
      pod, seen, probes: NO_PROBES, now,
      backoff: computeBackoffView({ backoff: ctx.crashBackoff, podUid: pod.metadata.uid, spec: pod.spec, seen, hashOf: (n) => hashes.get(n) ?? '', now }),
      containerHashes: hashes, sandboxHash: computeSandboxHash(pod, computeQosClass(pod.spec)),
    });
    return applyPodActions(ctx, { pod, seen, actions, reasons });
  };
  return { dir, cri, ctx, inspector, reasons, syncOnce, advance: (ms: number) => { now += ms; } };
}

function actionsOf(steps: StepResult[]): string[] {
  return steps.map((s) => `${s.action}${s.error ? '!' : ''}`);
}

function lastCreated(cri: FakeCri) {
  return cri.listContainers().then((cs) => cs.sort((a, b) => b.createdAtMs - a.createdAtMs)[0]);
}

t.test('a new pod: volumes, sandbox, container created and started, bookkeeping annotations', async (t) => {
  const s = await setup(t);
  const pod = makePod({
    containers: [{ name: 'app', image: IMAGE, volumeMounts: [{ name: 'data', mountPath: '/data' }], env: [{ name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }] }],
    volumes: [{ name: 'data', emptyDir: {} }],
  });
  const steps = await s.syncOnce(pod);
  t.same(actionsOf(steps), ['prepare-volumes', 'create-sandbox', 'create-container', 'start-container']);
  const [sandbox] = await s.cri.listPodSandbox();
  t.equal(sandbox.metadata.attempt, 0);
  t.equal(sandbox.labels['io.kubernetes.pod.uid'], pod.metadata.uid);
  const status = await s.cri.podSandboxStatus(sandbox.id);
  const c = await lastCreated(s.cri);
  const cs = await s.cri.containerStatus(c.id);
  t.equal(cs.state, 'running');
  t.equal(cs.annotations[ANNOTATION_RESTART_COUNT], '0');
  t.match(cs.logPath, /logs\/default_web_uid-1\/app\/0\.log$/);
  const mounts = cs.mounts.map((m) => m.containerPath);
  t.ok(mounts.includes('/data') && mounts.includes('/etc/hosts'), 'volume and managed hosts file mounted');
  const hosts = await readFile(s.ctx.volumes.hostsFilePath(pod.metadata.uid), 'utf8');
  t.match(hosts, new RegExp(`${status.ip.replaceAll('.', '\\.')}\\tweb`));
  t.ok((await stat(`${s.ctx.volumes.podDir(pod.metadata.uid)}/volumes/kubernetes.io~empty-dir/data`)).isDirectory());
  t.same(await s.syncOnce(pod), [], 'a second sync finds nothing to do');
});

t.test('image pull failure: ErrImagePull, then ImagePullBackOff without pulling, then a pull again after the backoff', async (t) => {
  const s = await setup(t, { images: [], registry: [] });
  const pod = makePod({ containers: [{ name: 'app', image: 'reg.example/missing:1' }] });
  const first = await s.syncOnce(pod);
  t.same(actionsOf(first), ['prepare-volumes', 'create-sandbox', 'pull-image!']);
  t.equal(s.reasons.get('app')?.reason, 'ErrImagePull');
  const pulls = () => s.cri.calls.filter((c) => c.method === 'pullImage').length;
  t.equal(pulls(), 1);
  const second = await s.syncOnce(pod);
  t.same(actionsOf(second), ['backoff']);
  t.equal(s.reasons.get('app')?.reason, 'ImagePullBackOff');
  t.equal(pulls(), 1, 'no pull while backing off');
  s.advance(10_000);
  await s.syncOnce(pod);
  t.equal(pulls(), 2);
  t.equal(s.reasons.get('app')?.reason, 'ErrImagePull');
});

t.test('pull policy Never with the image missing: ErrImageNeverPull', async (t) => {
  const s = await setup(t, { images: [] });
  const pod = makePod({ containers: [{ name: 'app', image: 'reg.example/x:1', imagePullPolicy: 'Never' }] });
  await s.syncOnce(pod);
  t.equal(s.reasons.get('app')?.reason, 'ErrImageNeverPull');
  t.equal(s.cri.calls.filter((c) => c.method === 'pullImage').length, 0);
});

t.test('a failing PostStart hook kills the container and records PostStartHookError', async (t) => {
  const s = await setup(t);
  s.cri.setExecHandler((_id, cmd) => ({ stdout: Buffer.from('secret output'), stderr: Buffer.alloc(0), exitCode: cmd[0] === 'fail' ? 3 : 0 }));
  const pod = makePod({ containers: [{ name: 'app', image: IMAGE, lifecycle: { postStart: { exec: { command: ['fail'] } } } }] });
  const steps = await s.syncOnce(pod);
  t.same(actionsOf(steps), ['prepare-volumes', 'create-sandbox', 'create-container', 'start-container', 'run-post-start!', 'kill-container']);
  t.equal(s.reasons.get('app')?.reason, 'PostStartHookError');
  t.notMatch(JSON.stringify(steps), /secret output/, 'hook output never lands in results');
  const c = await lastCreated(s.cri);
  t.equal(c.state, 'exited');
});

t.test('PreStop runs before StopContainer, within the grace period', async (t) => {
  const s = await setup(t);
  const order: string[] = [];
  s.cri.setExecHandler((_id, cmd) => {
    order.push(`exec ${cmd.join(' ')}`);
    return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 };
  });
  const pod = makePod({ terminationGracePeriodSeconds: 7, containers: [{ name: 'app', image: IMAGE, lifecycle: { preStop: { exec: { command: ['drain'] } } } }] });
  await s.syncOnce(pod);
  const seen = await s.inspector.inspect(pod.metadata.uid);
  const before = s.cri.calls.length;
  const steps = await terminatePod(s.ctx, { pod, seen });
  const calls = s.cri.calls.slice(before).map((c) => c.method);
  t.same(order, ['exec drain']);
  t.ok(calls.indexOf('execSync') < calls.indexOf('stopContainer'), 'hook before stop');
  t.match(steps.find((x) => x.action === 'kill-container')?.message, /grace 7s/);
  t.same(actionsOf(steps).filter((a) => a.endsWith('!')), [], `no failed step: ${JSON.stringify(steps.filter((x) => x.error))}`);
  t.same(await s.cri.listPodSandbox(), []);
  t.same(await s.cri.listContainers(), []);
  await t.rejects(stat(s.ctx.volumes.podDir(pod.metadata.uid)), { code: 'ENOENT' }, 'pod directory removed');
});

t.test('PreStop from the annotation when the spec is gone (orphan after a restart)', async (t) => {
  const s = await setup(t);
  const order: string[] = [];
  s.cri.setExecHandler((_id, cmd) => {
    order.push(cmd.join(' '));
    return { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 };
  });
  const pod = makePod({ containers: [{ name: 'app', image: IMAGE, lifecycle: { preStop: { exec: { command: ['bye'] } } } }] });
  await s.syncOnce(pod);
  const seen = await s.inspector.inspect(pod.metadata.uid);
  await terminatePod(s.ctx, { seen });
  t.same(order, ['bye']);
});

t.test('a crashed container restarts with the next restart count, then waits in CrashLoopBackOff', async (t) => {
  const s = await setup(t);
  const pod = makePod();
  await s.syncOnce(pod);
  const first = await lastCreated(s.cri);
  s.cri.exitContainer(first.id, { exitCode: 1 });
  s.advance(1000);
  const restart = await s.syncOnce(pod);
  t.same(actionsOf(restart), ['create-container', 'start-container']);
  const second = await lastCreated(s.cri);
  t.not(second.id, first.id);
  t.equal((await s.cri.containerStatus(second.id)).annotations[ANNOTATION_RESTART_COUNT], '1');
  t.equal(second.metadata.attempt, 1);
  s.cri.exitContainer(second.id, { exitCode: 1 });
  s.advance(1000);
  const waiting = await s.syncOnce(pod);
  t.same(actionsOf(waiting), ['remove-container', 'backoff'], 'the older exited instance is garbage-collected; one is kept');
  t.equal(s.reasons.get('app')?.reason, 'CrashLoopBackOff');
  t.match(s.reasons.get('app')?.message, /^back-off 9s restarting failed container=app pod=web_default\(uid-1\)$/);
  s.advance(9_000);
  const again = await s.syncOnce(pod);
  t.same(actionsOf(again), ['create-container', 'start-container']);
  t.equal(s.reasons.has('app'), false, 'a successful start clears the reason');
});

t.test('a failed RunPodSandbox is reported and its leftover removed; no container is created', async (t) => {
  const s = await setup(t);
  s.cri.failNext('runPodSandbox', { grpcCode: GrpcCode.UNKNOWN, details: 'failed to setup network for sandbox: cni plugin not initialized' });
  const steps = await s.syncOnce(makePod());
  t.same(actionsOf(steps), ['prepare-volumes', 'create-sandbox!']);
  t.match(steps[1].error, /cni plugin not initialized/);
  t.equal(s.cri.calls.filter((c) => c.method === 'createContainer').length, 0);
  const ok = await s.syncOnce(makePod());
  t.same(actionsOf(ok), ['prepare-volumes', 'create-sandbox', 'create-container', 'start-container'], 'the next sync tries again');
});

t.test('volumes that cannot be prepared: no container is created; the next sync, once they can be, starts it in the same sandbox', async (t) => {
  const s = await setup(t);
  const hostDir = `${s.dir}/host-data`;
  const pod = makePod({
    containers: [{ name: 'app', image: IMAGE, volumeMounts: [{ name: 'host', mountPath: '/data' }] }],
    volumes: [{ name: 'host', hostPath: { path: hostDir, type: 'Directory' } }],
  });
  const steps = await s.syncOnce(pod);
  t.same(actionsOf(steps), ['prepare-volumes!'], 'made while the sandbox came up; reported');
  t.match(steps[0].error, new RegExp(hostDir));
  t.equal(s.cri.calls.filter((c) => c.method === 'createContainer').length, 0, 'no container');
  const [sandbox] = await s.cri.listPodSandbox();
  t.equal(sandbox?.state, 'ready', 'the sandbox stays for the next sync');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(hostDir);
  const again = await s.syncOnce(pod);
  t.same(actionsOf(again), ['create-container', 'start-container']);
  t.same((await s.cri.listPodSandbox()).map((x) => x.id), [sandbox!.id], 'same sandbox');
  t.ok((await readFile(s.ctx.volumes.hostsFilePath(pod.metadata.uid), 'utf8')).includes(pod.metadata.name), 'hosts file written by the second sync');
});

t.test('init containers run one at a time, in order', async (t) => {
  const s = await setup(t);
  const pod = makePod({ initContainers: [{ name: 'i1', image: IMAGE }, { name: 'i2', image: IMAGE }], containers: [{ name: 'app', image: IMAGE }] });
  await s.syncOnce(pod);
  const names = async () => (await s.cri.listContainers()).sort((a, b) => a.createdAtMs - b.createdAtMs).map((c) => c.metadata.name);
  t.same(await names(), ['i1']);
  await s.syncOnce(pod);
  t.same(await names(), ['i1'], 'i2 waits while i1 runs');
  s.cri.exitContainer((await lastCreated(s.cri)).id, { exitCode: 0 });
  s.advance(10);
  await s.syncOnce(pod);
  t.same(await names(), ['i1', 'i2']);
  s.cri.exitContainer((await lastCreated(s.cri)).id, { exitCode: 0 });
  s.advance(10);
  await s.syncOnce(pod);
  t.same(await names(), ['i1', 'i2', 'app']);
});
