// Pod workers over the in-memory runtime: the loop of inspect, plan, apply and status, driven by
// the source, relists and probe results.

import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { KeyedBackoff } from '../../../../common/backoff.ts';
import { createFakeCri } from '../../../../agent/cri/fake.ts';
import { createAgentMetrics } from '../../../../agent/metrics.ts';
import { PodInspector } from '../../../../agent/pod/inspect.ts';
import { newImageCalls } from '../../../../agent/pod/sync.ts';
import { PodWorkers } from '../../../../agent/pod/workers.ts';
import { Pleg } from '../../../../agent/pleg.ts';
import { VolumeManager } from '../../../../agent/volumes.ts';
import { silentLogger } from '../../../../common/log.ts';
import { waitFor } from '../../../../common/wait.ts';
import { makePod } from '../../../fixtures/agent/pods.ts';

const IMAGE = 'reg.example/app:1.0';

async function setup(t: Test, opts: { maxPods?: number; slowStartsMs?: number } = {}) {
  const dir = await mkdtemp(`${tmpdir()}/moor-workers-`);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fake = createFakeCri({ images: [IMAGE] });
  // Sandboxes and containers that take a while to start, as containerd's do: relists come mid-sync.
  const delay = opts.slowStartsMs;
  const cri: typeof fake = delay === undefined ? fake : Object.assign(Object.create(fake) as typeof fake, {
    runPodSandbox: async (...a: Parameters<typeof fake.runPodSandbox>) => {
      const id = await fake.runPodSandbox(...a);
      await new Promise((r) => setTimeout(r, delay));
      return id;
    },
    startContainer: async (id: string) => {
      await new Promise((r) => setTimeout(r, delay));
      await fake.startContainer(id);
      await new Promise((r) => setTimeout(r, delay));
    },
  });
  const metrics = createAgentMetrics();
  const workers = new PodWorkers({
    sync: {
      cri, log: silentLogger(), volumes: new VolumeManager({ rootDir: `${dir}/root`, log: silentLogger() }),
      node: { name: 'n1', ip: '192.0.2.1', memoryBytes: 2 ** 32, cpuMilli: 2000, resolvConf: '' },
      podLogsDir: `${dir}/logs`, cgroupRoot: '/moor-unit-test-never-created',
      crashBackoff: new KeyedBackoff({ initialMs: 50, maxMs: 200 }),
      imageBackoff: new KeyedBackoff({ initialMs: 50, maxMs: 200 }),
      images: newImageCalls(),
      now: Date.now,
    },
    inspector: new PodInspector(cri), metrics, log: silentLogger(), maxPods: opts.maxPods ?? 10, resyncPeriodMs: 60_000,
  });
  const pleg = new Pleg({ cri, log: silentLogger(), relistPeriodMs: 20, onRelist: (events, snapshot) => workers.handleRelist(events, snapshot) });
  pleg.start();
  t.teardown(async () => {
    await pleg.stop();
    await workers.stop();
  });
  return { cri, workers, metrics };
}

t.test('a pod starts, crashes, restarts through CrashLoopBackOff; removal terminates it', async (t) => {
  const { cri, workers } = await setup(t);
  const pod = makePod({ containers: [{ name: 'app', image: IMAGE }] });
  workers.setPods([pod]);
  workers.markSourcesReady();
  const status = () => workers.listPods()[0]?.status;
  await waitFor(() => status()?.phase === 'Running' && status()?.conditions.find((c) => c.type === 'Ready')?.status === 'True', { timeoutMs: 5000, what: 'running and ready' });
  const first = (await cri.listContainers())[0];
  cri.exitContainer(first.id, { exitCode: 1 });
  await waitFor(() => status()?.containerStatuses[0].restartCount === 1 && status()?.containerStatuses[0].state.running, { timeoutMs: 5000, what: 'first restart (immediate)' });
  const second = (await cri.listContainers({ state: 'running' }))[0];
  cri.exitContainer(second.id, { exitCode: 1 });
  await waitFor(() => status()?.containerStatuses[0].state.waiting?.reason === 'CrashLoopBackOff', { timeoutMs: 5000, what: 'CrashLoopBackOff' });
  t.equal(status()?.containerStatuses[0].lastState.terminated?.exitCode, 1);
  await waitFor(() => status()?.containerStatuses[0].restartCount === 2 && status()?.containerStatuses[0].state.running, { timeoutMs: 5000, what: 'restart after the backoff (woken by its timer)' });

  workers.setPods([]);
  await waitFor(async () => (await cri.listPodSandbox()).length === 0 && (await cri.listContainers()).length === 0, { timeoutMs: 5000, what: 'pod removed from the runtime' });
  t.same(workers.listPods(), []);
});

t.test('readiness from the probe drives the Ready condition', async (t) => {
  const { cri, workers } = await setup(t);
  let ready = false;
  cri.setExecHandler(() => ({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: ready ? 0 : 1 }));
  workers.setPods([makePod({ containers: [{ name: 'app', image: IMAGE, readinessProbe: { exec: { command: ['check'] }, periodSeconds: 1, failureThreshold: 1 } }] })]);
  workers.markSourcesReady();
  const readyCond = () => workers.listPods()[0]?.status?.conditions.find((c) => c.type === 'Ready')?.status;
  await waitFor(() => workers.listPods()[0]?.status?.phase === 'Running', { timeoutMs: 5000, what: 'running' });
  t.equal(readyCond(), 'False');
  ready = true;
  await waitFor(() => readyCond() === 'True', { timeoutMs: 5000, what: 'ready' });
  ready = false;
  await waitFor(() => readyCond() === 'False', { timeoutMs: 5000, what: 'not ready again' });
});

t.test('a liveness failure restarts the container', async (t) => {
  const { cri, workers } = await setup(t);
  let alive = true;
  cri.setExecHandler(() => ({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: alive ? 0 : 1 }));
  workers.setPods([makePod({ containers: [{ name: 'app', image: IMAGE, livenessProbe: { exec: { command: ['alive'] }, periodSeconds: 1, failureThreshold: 1 } }] })]);
  workers.markSourcesReady();
  await waitFor(() => workers.listPods()[0]?.status?.phase === 'Running', { timeoutMs: 5000, what: 'running' });
  alive = false;
  await waitFor(() => workers.listPods()[0]?.status?.containerStatuses[0].restartCount === 1, { timeoutMs: 5000, what: 'restarted after liveness failure' });
  alive = true;
  await waitFor(() => workers.listPods()[0]?.status?.containerStatuses[0].state.running, { timeoutMs: 5000, what: 'running again' });
});

t.test('max-pods: pods beyond it are rejected with OutOfpods; runtime pods nobody wants are terminated', async (t) => {
  const { cri, workers } = await setup(t, { maxPods: 1 });
  const orphan = await cri.runPodSandbox({ metadata: { name: 'old', namespace: 'default', uid: 'orphan', attempt: 0 }, labels: { 'io.kubernetes.pod.uid': 'orphan' } });
  workers.setPods([makePod({}, { name: 'a', uid: 'ua' }), makePod({}, { name: 'b', uid: 'ub' })]);
  workers.markSourcesReady();
  const b = () => workers.listPods().find((p) => p.metadata.uid === 'ub');
  t.equal(b()?.status?.phase, 'Failed');
  t.equal(b()?.status?.reason, 'OutOfpods');
  await waitFor(async () => !(await cri.listPodSandbox()).some((s) => s.id === orphan), { timeoutMs: 5000, what: 'orphan terminated' });
  await waitFor(() => workers.listPods().find((p) => p.metadata.uid === 'ua')?.status?.phase === 'Running', { timeoutMs: 5000, what: 'a running' });
});

t.test('a resync of a pod the relist shows unchanged reads nothing from the runtime; a change makes it look again', async (t) => {
  const { cri, workers } = await setup(t);
  workers.setPods([makePod({ containers: [{ name: 'app', image: IMAGE }] }, { name: 'a', uid: 'ua' })]);
  workers.markSourcesReady();
  const status = () => workers.listPods()[0]?.status;
  await waitFor(() => status()?.phase === 'Running', { timeoutMs: 5000, what: 'running' });
  // Let a relist listed after the start's read-back come by (relist period 20 ms).
  await new Promise((r) => setTimeout(r, 100));
  const reads = () => cri.calls.filter((c) => c.method === 'containerStatus' || c.method === 'podSandboxStatus').length;
  const before = reads();
  for (let i = 0; i < 5; i++) workers.resyncAll();
  await new Promise((r) => setTimeout(r, 100));
  t.equal(reads(), before, 'five resyncs of an unchanged pod: no status calls');
  t.equal(status()?.phase, 'Running', 'status unchanged');

  // The container dies: the relist differs from what the pod's worker saw, so it inspects and restarts it.
  const first = (await cri.listContainers())[0];
  cri.exitContainer(first.id, { exitCode: 1 });
  await waitFor(() => status()?.containerStatuses[0].restartCount === 1 && status()?.containerStatuses[0].state.running !== undefined, { timeoutMs: 5000, what: 'restarted after the exit' });
  t.ok(reads() > before, 'the change was read from the runtime');
});

t.test('a sandbox that fails to come up is tried again after a short backoff, not at the next resync', async (t) => {
  const { cri, workers } = await setup(t);
  // As containerd answers while the node's CNI config is not written yet; nothing is left behind,
  // so no relist will show a change to sync on (the resync period is 60 s here).
  cri.failNext('runPodSandbox', { grpcCode: 2, details: 'failed to setup network for sandbox: cni plugin not initialized' });
  workers.setPods([makePod({ containers: [{ name: 'app', image: IMAGE }] })]);
  workers.markSourcesReady();
  const started = Date.now();
  await waitFor(() => workers.listPods()[0]?.status?.phase === 'Running', { timeoutMs: 5000, what: 'running after the retry' });
  t.ok(Date.now() - started >= 900, 'the retry waited for the backoff');
  t.equal(cri.calls.filter((c) => c.method === 'runPodSandbox').length, 2, 'one failed attempt, one that worked');
});

t.test('relists during a start that show what the start is making cause no second sync', async (t) => {
  const { cri, workers } = await setup(t, { slowStartsMs: 60 }); // relists every 20 ms
  // As in the agent, the first relist comes before the first pod (a pod it did not list is not inspected).
  await waitFor(() => cri.calls.some((c) => c.method === 'listContainerStates'), { timeoutMs: 5000, what: 'first relist' });
  workers.setPods([makePod({ containers: [{ name: 'app', image: IMAGE }] })]);
  workers.markSourcesReady();
  await waitFor(() => workers.listPods()[0]?.status?.phase === 'Running', { timeoutMs: 5000, what: 'running' });
  await new Promise((r) => setTimeout(r, 150));
  const relists = cri.calls.filter((c) => c.method === 'listPodSandboxStates').length;
  t.ok(relists >= 5, `relists came during the start (${relists})`);
  // A second sync would inspect the pod: list its sandboxes by label.
  t.equal(cri.calls.filter((c) => c.method === 'listPodSandbox').length, 0, 'no sync after the start looked again');
  t.equal(cri.calls.filter((c) => c.method === 'podSandboxStatus').length, 1, 'the new sandbox was read once');

  // A container dying while nothing syncs is still acted on.
  const first = (await cri.listContainers())[0];
  cri.exitContainer(first.id, { exitCode: 1 });
  await waitFor(() => workers.listPods()[0]?.status?.containerStatuses[0].restartCount === 1, { timeoutMs: 5000, what: 'restarted after the exit' });
});
