// The CRI contract Moor relies on, run against both the in-memory fake (unit) and a real containerd
// (integration): states and their transitions, name reservation, NOT_FOUND on unknown ids, the
// uneven idempotency of stop/remove, label filters. What only a real runtime can show (IPs from
// CNI, exec output, log files) is tested in test/integration/cri.
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { isNameReserved, isNotFound, type CriError } from '../../../../agent/cri/errors.ts';
import type { ContainerConfig, CriImages, CriRuntime, PodSandboxConfig } from '../../../../agent/cri/types.ts';

export interface ContractTarget {
  readonly cri: CriRuntime & CriImages;
  /** A fully qualified reference the runtime can pull. */
  readonly image: string;
  /** A reference nobody serves. */
  readonly missingImage: string;
  /** Where sandbox logs may go (the fake ignores it). */
  readonly logDirectory: string;
}

async function rejectsWith(t: Test, promise: Promise<unknown>, check: (err: unknown) => boolean, what: string): Promise<void> {
  try {
    await promise;
    t.fail(`${what}: expected a failure, got success`);
  } catch (err) {
    t.ok(check(err), `${what}: ${(err as CriError).message}`);
  }
}

/** Registers the contract's subtests on `t`. `target` is called once the parent test runs. */
export function defineCriContract(t: Test, target: () => ContractTarget): void {
  const run = randomBytes(3).toString('hex');
  let seq = 0;
  const sandboxConfig = (labels: Record<string, string> = {}, attempt = 0): PodSandboxConfig => {
    seq++;
    return {
      metadata: { name: `contract-${seq}`, uid: `uid-${run}-${seq}`, namespace: 'moor-contract', attempt },
      hostname: `contract-${seq}`,
      logDirectory: `${target().logDirectory}/${run}-${seq}`,
      labels: { 'moor.test/run': run, ...labels },
      annotations: { 'moor.test/note': `sandbox ${seq}` },
    };
  };
  const containerConfig = (name: string, labels: Record<string, string> = {}): ContainerConfig => ({
    metadata: { name, attempt: 0 },
    image: { image: target().image },
    command: ['sleep', '3600'],
    labels: { 'moor.test/run': run, ...labels },
    annotations: { 'moor.test/note': name },
    logPath: `${name}/0.log`,
  });
  /** Run a sandbox and remove it when the test ends, whatever happens. */
  const runSandbox = async (tt: Test, config: PodSandboxConfig): Promise<string> => {
    const { cri } = target();
    const id = await cri.runPodSandbox(config);
    tt.teardown(() => cri.removePodSandbox(id));
    return id;
  };

  t.test('version speaks runtime API v1', async (t) => {
    const v = await target().cri.version();
    t.equal(v.runtimeApiVersion, 'v1');
    t.ok(v.runtimeName.length > 0, `runtime name ${v.runtimeName}`);
  });

  t.test('status: runtime and network ready', async (t) => {
    const s = await target().cri.status();
    const byType = new Map(s.conditions.map((c) => [c.type, c.status]));
    t.equal(byType.get('RuntimeReady'), true);
    t.equal(byType.get('NetworkReady'), true);
  });

  t.test('images: pull, then find by reference and by id; a missing image is undefined, not an error', async (t) => {
    const { cri, image, missingImage } = target();
    const imageRef = await cri.pullImage(image);
    t.match(imageRef, /^sha256:[0-9a-f]{64}$/, 'pull returns the image id');
    const byRef = await cri.imageStatus(image);
    t.equal(byRef?.id, imageRef);
    t.ok(byRef?.repoTags.includes(image), 'tagged with the pulled reference');
    t.ok((byRef?.sizeBytes ?? 0) > 0, 'has a size');
    t.equal((await cri.imageStatus(imageRef))?.id, imageRef, 'found by id');
    t.equal(await cri.imageStatus(missingImage), undefined);
    t.ok((await cri.listImages()).some((i) => i.id === imageRef), 'listed');
  });

  t.test('sandbox lifecycle: ready -> notready -> gone, with reserved names', async (t) => {
    const { cri } = target();
    const config = sandboxConfig({ role: 'lifecycle' });
    const before = Date.now();
    const id = await runSandbox(t, config);
    const status = await cri.podSandboxStatus(id);
    t.equal(status.id, id);
    t.equal(status.state, 'ready');
    t.same(status.metadata, config.metadata, 'metadata echoed');
    t.same(status.labels, config.labels, 'labels echoed');
    t.same(status.annotations, config.annotations, 'annotations echoed');
    t.match(status.ip, /^\d+\.\d+\.\d+\.\d+$/, 'has a pod IP');
    t.ok(status.createdAtMs >= before - 1000 && status.createdAtMs <= Date.now() + 1000, 'created now, in milliseconds');

    await rejectsWith(t, cri.runPodSandbox(config), isNameReserved, 'same metadata again');
    const next = await runSandbox(t, { ...config, metadata: { ...config.metadata, attempt: config.metadata.attempt + 1 } });
    t.not(next, id, 'a new attempt gets a new sandbox');
    await cri.removePodSandbox(next);

    await cri.stopPodSandbox(id);
    const stopped = await cri.podSandboxStatus(id);
    t.equal(stopped.state, 'notready');
    t.equal(stopped.ip, '', 'no IP once stopped');
    await cri.stopPodSandbox(id);
    t.pass('stopping twice is fine');

    await cri.removePodSandbox(id);
    await rejectsWith(t, cri.podSandboxStatus(id), isNotFound, 'status of a removed sandbox');
    await cri.removePodSandbox(id);
    t.pass('removing twice is fine');
    await rejectsWith(t, cri.stopPodSandbox(id), isNotFound, 'stopping an unknown sandbox');
    await cri.runPodSandbox(config).then((again) => cri.removePodSandbox(again));
    t.pass('the name is free again after removal');
  });

  t.test('container lifecycle: created -> running -> exited -> gone', async (t) => {
    const { cri, image } = target();
    await cri.pullImage(image);
    const sbConfig = sandboxConfig({ role: 'containers' });
    const sandboxId = await runSandbox(t, sbConfig);
    const config = containerConfig('app', { role: 'app' });
    const containerId = await cri.createContainer(sandboxId, config, sbConfig);
    const created = await cri.containerStatus(containerId);
    t.equal(created.state, 'created');
    t.equal(created.startedAtMs, 0);
    t.same(created.metadata, config.metadata);
    t.same(created.labels, config.labels);
    t.same(created.annotations, config.annotations);
    t.equal(created.logPath, `${sbConfig.logDirectory}/app/0.log`, 'log path = sandbox log directory + container log path');

    await rejectsWith(t, cri.createContainer(sandboxId, config, sbConfig), isNameReserved, 'same container name and attempt again');

    await cri.startContainer(containerId);
    const running = await cri.containerStatus(containerId);
    t.equal(running.state, 'running');
    t.ok(running.startedAtMs >= created.createdAtMs, 'started after created');
    await rejectsWith(t, cri.startContainer(containerId), (err) => !isNotFound(err), 'starting a running container');

    const listed = await cri.listContainers({ podSandboxId: sandboxId });
    t.same(listed.map((c) => [c.id, c.state, c.podSandboxId]), [[containerId, 'running', sandboxId]]);

    await cri.stopContainer(containerId, 0);
    const exited = await cri.containerStatus(containerId);
    t.equal(exited.state, 'exited');
    t.equal(exited.exitCode, 137, 'killed');
    t.equal(exited.reason, 'Error');
    t.ok(exited.finishedAtMs > 0, 'has a finish time');
    await cri.stopContainer(containerId, 0);
    t.pass('stopping an exited container is fine');

    await cri.removeContainer(containerId);
    await rejectsWith(t, cri.containerStatus(containerId), isNotFound, 'status of a removed container');
    await cri.removeContainer(containerId);
    t.pass('removing twice is fine');
    await rejectsWith(t, cri.stopContainer(containerId, 0), isNotFound, 'stopping an unknown container');
    await rejectsWith(t, cri.execSync(containerId, ['true'], 1), isNotFound, 'exec in an unknown container');
    const again = await cri.createContainer(sandboxId, config, sbConfig);
    t.not(again, containerId, 'the name is free again after removal');
  });

  t.test('create fails NOT_FOUND when the image is not present', async (t) => {
    const { cri, missingImage } = target();
    const sbConfig = sandboxConfig();
    const sandboxId = await runSandbox(t, sbConfig);
    await rejectsWith(t, cri.createContainer(sandboxId, { ...containerConfig('nope'), image: { image: missingImage } }, sbConfig), isNotFound, 'missing image');
    await rejectsWith(t, cri.createContainer('0'.repeat(64), containerConfig('nope'), sbConfig), isNotFound, 'unknown sandbox');
  });

  t.test('list filters: labels, sandbox and state', async (t) => {
    const { cri, image } = target();
    await cri.pullImage(image);
    const aConfig = sandboxConfig({ tier: 'a' });
    const bConfig = sandboxConfig({ tier: 'b' });
    const a = await runSandbox(t, aConfig);
    const b = await runSandbox(t, bConfig);
    const ca = await cri.createContainer(a, containerConfig('web', { tier: 'a' }), aConfig);
    const cb = await cri.createContainer(b, containerConfig('web', { tier: 'b' }), bConfig);
    await cri.startContainer(ca);

    const pods = await cri.listPodSandbox({ labelSelector: { 'moor.test/run': run, tier: 'a' } });
    t.same(pods.map((p) => p.id), [a], 'sandboxes by labels');
    t.same((await cri.listPodSandbox({ id: b })).map((p) => p.id), [b], 'sandbox by id');
    await cri.stopPodSandbox(b);
    const ready = await cri.listPodSandbox({ state: 'ready', labelSelector: { 'moor.test/run': run } });
    t.ok(ready.some((p) => p.id === a) && !ready.some((p) => p.id === b), 'ready only');

    t.same((await cri.listContainers({ labelSelector: { 'moor.test/run': run, tier: 'b' } })).map((c) => c.id), [cb], 'containers by labels');
    t.same((await cri.listContainers({ podSandboxId: a })).map((c) => c.id), [ca], 'containers by sandbox');
    const runningOnes = await cri.listContainers({ state: 'running', labelSelector: { 'moor.test/run': run } });
    t.same(runningOnes.map((c) => c.id), [ca], 'running only');
    const all = await cri.listContainers({ labelSelector: { 'moor.test/run': run } });
    t.ok(all.some((c) => c.id === ca) && all.some((c) => c.id === cb), 'no filter beyond the run label lists both');

    // The relist's lean view: the same ids and states as the full lists, and the label's value.
    const [sandboxStates, fullSandboxes] = await Promise.all([cri.listPodSandboxStates('tier'), cri.listPodSandbox()]);
    t.same(sandboxStates.filter((s) => s.id === a || s.id === b).sort((x, y) => x.id.localeCompare(y.id)),
      [{ id: a, state: 'ready', label: 'a' }, { id: b, state: 'notready', label: 'b' }].sort((x, y) => x.id.localeCompare(y.id)), 'sandbox states with the label');
    t.same(sandboxStates.map((s) => [s.id, s.state]).sort(), fullSandboxes.map((s) => [s.id, s.state]).sort(), 'every sandbox, as the full list');
    t.notOk(sandboxStates.some((s) => s.id === a && s.label === undefined), 'labelled');
    const [containerStates, fullContainers] = await Promise.all([cri.listContainerStates('tier'), cri.listContainers()]);
    const mine = new Map(containerStates.filter((c) => c.id === ca || c.id === cb).map((c) => [c.id, c]));
    t.same(mine.get(ca), { id: ca, state: 'running', label: 'a' }, 'running container with its label');
    t.same(mine.get(cb)?.label, 'b');
    t.same(containerStates.map((c) => [c.id, c.state]).sort(), fullContainers.map((c) => [c.id, c.state]).sort(), 'every container, as the full list');
    t.ok((await cri.listContainerStates('no-such-label')).every((c) => c.label === undefined), 'absent label: no value');
  });

  t.test('removing a ready sandbox removes its running containers', async (t) => {
    const { cri, image } = target();
    await cri.pullImage(image);
    const sbConfig = sandboxConfig();
    const sandboxId = await runSandbox(t, sbConfig);
    const containerId = await cri.createContainer(sandboxId, containerConfig('doomed'), sbConfig);
    await cri.startContainer(containerId);
    await cri.removePodSandbox(sandboxId);
    await rejectsWith(t, cri.containerStatus(containerId), isNotFound, 'container gone with its sandbox');
    t.same(await cri.listContainers({ podSandboxId: sandboxId }), []);
  });
}
