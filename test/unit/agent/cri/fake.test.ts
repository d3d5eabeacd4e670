// The in-memory fake honours the same contract as containerd (contract.ts), plus the controls
// executor tests drive it with.
import t from 'tap';
import { createFakeCri } from '../../../../agent/cri/fake.ts';
import { CriError, GrpcCode, isNameReserved, isNotFound, isUnavailable } from '../../../../agent/cri/errors.ts';
import type { ContainerConfig, PodSandboxConfig } from '../../../../agent/cri/types.ts';
import { defineCriContract } from './contract.ts';

const IMAGE = '127.0.0.1:5000/moor/busybox:1.0';

t.test('contract', async (t) => {
  const cri = createFakeCri({ registry: [IMAGE] });
  defineCriContract(t, () => ({ cri, image: IMAGE, missingImage: '127.0.0.1:5000/moor/missing:0', logDirectory: '/var/log/pods' }));
});

const sandbox: PodSandboxConfig = { metadata: { name: 'web', uid: 'u1', namespace: 'default', attempt: 0 }, logDirectory: '/logs' };
const app: ContainerConfig = { metadata: { name: 'app', attempt: 0 }, image: { image: IMAGE }, logPath: 'app/0.log' };

async function runningContainer(fake = createFakeCri({ images: [IMAGE] })) {
  const sandboxId = await fake.runPodSandbox(sandbox);
  const containerId = await fake.createContainer(sandboxId, app, sandbox);
  await fake.startContainer(containerId);
  return { fake, sandboxId, containerId };
}

t.test('exitContainer: a running container exits with the given code; reason follows it', async (t) => {
  let clock = 1_000;
  const fake = createFakeCri({ images: [IMAGE], now: () => clock });
  const { containerId } = await runningContainer(fake);
  clock = 2_500;
  fake.exitContainer(containerId, { exitCode: 0 });
  const s = await fake.containerStatus(containerId);
  t.same([s.state, s.exitCode, s.reason, s.startedAtMs, s.finishedAtMs], ['exited', 0, 'Completed', 1_000, 2_500]);

  const other = await runningContainer();
  other.fake.exitContainer(other.containerId, { exitCode: 137, reason: 'OOMKilled' });
  t.equal((await other.fake.containerStatus(other.containerId)).reason, 'OOMKilled');
  t.throws(() => other.fake.exitContainer(other.containerId, { exitCode: 1 }), /not running/, 'only running containers exit');
});

t.test('exec handler scripts ExecSync; exec needs a running container', async (t) => {
  const { fake, containerId } = await runningContainer();
  t.equal((await fake.execSync(containerId, ['true'], 1)).exitCode, 0, 'default: success, no output');
  fake.setExecHandler((id, cmd) => ({ stdout: Buffer.from(`${id.slice(0, 4)} ${cmd.join(' ')}`), stderr: Buffer.alloc(0), exitCode: 3 }));
  const r = await fake.execSync(containerId, ['cat', '/ready'], 1);
  t.equal(r.stdout.toString(), `${containerId.slice(0, 4)} cat /ready`);
  t.equal(r.exitCode, 3);
  fake.exitContainer(containerId, { exitCode: 0 });
  await t.rejects(fake.execSync(containerId, ['true'], 1), /CONTAINER_EXITED/);
});

t.test('failNext injects one failure for one method', async (t) => {
  const fake = createFakeCri({ images: [IMAGE] });
  fake.failNext('runPodSandbox', { grpcCode: GrpcCode.UNKNOWN, details: 'failed to setup network for sandbox: cni plugin not initialized' });
  fake.failNext('version', new CriError({ method: 'Version', grpcCode: GrpcCode.UNAVAILABLE, details: 'down' }));
  await t.rejects(fake.runPodSandbox(sandbox), /cni plugin not initialized/);
  await fake.version().then(() => t.fail('expected failure'), (err: unknown) => t.ok(isUnavailable(err)));
  t.ok(await fake.runPodSandbox(sandbox), 'the next call succeeds');
  t.same(fake.calls.map((c) => c.method), ['runPodSandbox', 'version', 'runPodSandbox'], 'calls are recorded, failed ones too');
});

t.test('failNextStart: the container ends as a StartError with exit code 128, like containerd', async (t) => {
  const fake = createFakeCri({ images: [IMAGE] });
  const sandboxId = await fake.runPodSandbox(sandbox);
  const containerId = await fake.createContainer(sandboxId, app, sandbox);
  fake.failNextStart();
  await t.rejects(fake.startContainer(containerId), /no such file or directory/);
  const s = await fake.containerStatus(containerId);
  t.same([s.state, s.exitCode, s.reason, s.startedAtMs], ['exited', 128, 'StartError', 0]);
  t.match(s.message, /does\/not\/exist/);
});

t.test('name reservation uses the upstream forms', async (t) => {
  const fake = createFakeCri({ images: [IMAGE] });
  const sandboxId = await fake.runPodSandbox(sandbox);
  const err = await fake.runPodSandbox(sandbox).catch((e: unknown) => e);
  t.ok(isNameReserved(err));
  t.match((err as CriError).details, 'failed to reserve sandbox name "web_default_u1_0"');
  await fake.createContainer(sandboxId, app, sandbox);
  const cerr = await fake.createContainer(sandboxId, app, sandbox).catch((e: unknown) => e);
  t.match((cerr as CriError).details, 'failed to reserve container name "app_web_default_u1_0"');
});

t.test('host-network sandboxes get no IP; pod IPs are distinct', async (t) => {
  const fake = createFakeCri();
  const host = await fake.runPodSandbox({ ...sandbox, linux: { securityContext: { namespaceOptions: { network: 'node' } } } });
  t.equal((await fake.podSandboxStatus(host)).ip, '');
  const a = await fake.runPodSandbox({ ...sandbox, metadata: { ...sandbox.metadata, uid: 'a' } });
  const b = await fake.runPodSandbox({ ...sandbox, metadata: { ...sandbox.metadata, uid: 'b' } });
  t.not((await fake.podSandboxStatus(a)).ip, (await fake.podSandboxStatus(b)).ip);
});

t.test('stopping a sandbox kills its running containers (137); create in a stopped sandbox fails', async (t) => {
  const { fake, sandboxId, containerId } = await runningContainer();
  await fake.stopPodSandbox(sandboxId);
  const s = await fake.containerStatus(containerId);
  t.same([s.state, s.exitCode], ['exited', 137]);
  await t.rejects(fake.createContainer(sandboxId, { ...app, metadata: { name: 'late', attempt: 0 } }, sandbox), /is not running/);
});

t.test('pull from a registry list: an unknown reference is NOT_FOUND', async (t) => {
  const fake = createFakeCri({ registry: [IMAGE] });
  const err = await fake.pullImage('127.0.0.1:5000/moor/missing:0').catch((e: unknown) => e);
  t.ok(isNotFound(err));
  await fake.pullImage(IMAGE);
  await fake.removeImage(IMAGE);
  t.equal(await fake.imageStatus(IMAGE), undefined, 'removed');
  await fake.removeImage(IMAGE);
  t.pass('removing a missing image is fine');
});

t.test('updateContainerResources shows in the status; a closed fake refuses calls', async (t) => {
  const { fake, containerId } = await runningContainer();
  await fake.updateContainerResources(containerId, { memoryLimitInBytes: 128 * 1024 * 1024 });
  t.equal((await fake.containerStatus(containerId)).resources?.memoryLimitInBytes, 128 * 1024 * 1024);
  fake.close();
  await t.rejects(fake.version(), /client is closed/);
});
