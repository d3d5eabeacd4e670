// containerd going away and coming back under a live client: pods keep running, the same client
// object works again without being recreated, and calls while it is gone fail with 'unavailable'
// (fast when the socket is gone, at the deadline when a stale socket is left behind).
import t from 'tap';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createCriClient } from '../../../agent/cri/client.ts';
import { isUnavailable, type CriError } from '../../../agent/cri/errors.ts';
import type { PodSandboxConfig } from '../../../agent/cri/types.ts';
import { IMAGES, startContainerdRig } from '../../helpers/containerd-rig.ts';
import { criSkipReason } from './setup.ts';

t.test('containerd restarts under a live client', { skip: await criSkipReason() }, async (t) => {
  const rig = await startContainerdRig({ name: `moor-cri-restart-${process.pid}` });
  t.teardown(() => rig.stop());
  const logLines: { msg: string; method?: string; retries?: number; durationMs?: number }[] = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, cb) { logLines.push(JSON.parse(chunk.toString())); cb(); } });
  const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 5_000, log: pino({ level: 'debug' }, sink) });
  t.teardown(() => cri.close());

  await cri.pullImage(IMAGES.busybox);
  const sandboxConfig: PodSandboxConfig = { metadata: { name: 'survivor', uid: `restart-${process.pid}`, namespace: 'moor-cri-test', attempt: 0 }, hostname: 'survivor' };
  const sandboxId = await cri.runPodSandbox(sandboxConfig);
  t.teardown(() => cri.removePodSandbox(sandboxId));
  const containerId = await cri.createContainer(sandboxId, { metadata: { name: 'sleeper', attempt: 0 }, image: { image: IMAGES.busybox }, command: ['sleep', '3600'] }, sandboxConfig);
  await cri.startContainer(containerId);
  const before = { pod: await cri.podSandboxStatus(sandboxId), container: await cri.containerStatus(containerId) };

  t.test('graceful restart (SIGTERM): the same client works as soon as containerd serves again', async (t) => {
    await rig.restart();
    const started = Date.now();
    logLines.length = 0;
    const version = await cri.version();
    t.comment(`first call after the restart: ${Date.now() - started} ms, ${logLines[0]?.retries} retries while containerd was not initialized`);
    t.equal(version.runtimeName, 'containerd');
    const pod = await cri.podSandboxStatus(sandboxId);
    t.equal(pod.state, 'ready', 'sandbox still ready');
    t.equal(pod.ip, before.pod.ip, 'same pod IP');
    const container = await cri.containerStatus(containerId);
    t.equal(container.state, 'running', 'container still running');
    t.equal(container.startedAtMs, before.container.startedAtMs, 'not restarted: same start time');
    t.equal((await cri.execSync(containerId, ['echo', 'still here'], 5)).stdout.toString(), 'still here\n');
  });

  t.test('crash (SIGKILL): calls fail as unavailable while down, then succeed on the same client', async (t) => {
    // A short-deadline client: with the socket file left behind, a call waits for readiness until its deadline.
    const quick = createCriClient({ endpoint: rig.endpoint, timeoutMs: 500 });
    t.teardown(() => quick.close());
    await quick.version();
    await rig.kill();
    const started = Date.now();
    const err = await quick.listContainers().catch((e: unknown) => e);
    const elapsedMs = Date.now() - started;
    t.ok(isUnavailable(err), `while down: ${(err as CriError).message}`);
    t.ok(elapsedMs < 2_000, `failed after ${elapsedMs} ms, bounded by the 500 ms deadline`);

    await rig.start();
    const back = Date.now();
    const containers = await quick.listContainers({ podSandboxId: sandboxId });
    t.comment(`first call after containerd is back: ${Date.now() - back} ms`);
    t.same(containers.map((c) => [c.id, c.state]), [[containerId, 'running']], 'the container survived the crash');
    t.equal((await cri.podSandboxStatus(sandboxId)).ip, before.pod.ip, 'the long-deadline client works too');
  });

  t.test('a missing socket fails fast with an error naming it', async (t) => {
    const socketPath = join(rig.stateDir, 'no-such.sock');
    const absent = createCriClient({ endpoint: `unix://${socketPath}`, timeoutMs: 10_000 });
    t.teardown(() => absent.close());
    const started = Date.now();
    const err = await absent.version().catch((e: unknown) => e);
    const elapsedMs = Date.now() - started;
    t.ok(isUnavailable(err));
    t.equal((err as CriError).message, `cri version: unavailable: connect ${socketPath}: socket does not exist`);
    t.ok(elapsedMs < 200, `failed in ${elapsedMs} ms`);
  });
});
