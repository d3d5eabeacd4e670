// The CRI client against a real containerd (the test rig): what only a real runtime shows. Pod IPs
// from the reference bridge plugin, exec output and exit codes, the CRI log file format, exit codes
// and reasons of finished containers, resources landing in cgroups, stats, images, streaming URLs,
// and the `moor cri` debugging command.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCriClient } from '../../../agent/cri/client.ts';
import { isDeadline, isNotFound } from '../../../agent/cri/errors.ts';
import type { ContainerConfig, ContainerStatus, CriClient, PodSandboxConfig } from '../../../agent/cri/types.ts';
import { waitFor } from '../../../common/wait.ts';
import { IMAGES, startContainerdRig, type ContainerdRig } from '../../helpers/containerd-rig.ts';
import { criSkipReason } from './setup.ts';

const run = promisify(execFile);
const repoRoot = new URL('../../..', import.meta.url).pathname;

/** One CRI log line: `<RFC3339Nano UTC> <stdout|stderr> <P|F> <text>`. */
const CRI_LOG_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z) (stdout|stderr) (P|F) (.*)$/;

t.test('containerd through the CRI client', { skip: await criSkipReason() }, async (t) => {
  const rig: ContainerdRig = await startContainerdRig({ name: `moor-cri-runtime-${process.pid}` });
  t.teardown(() => rig.stop());
  const cri: CriClient = createCriClient({ endpoint: rig.endpoint, timeoutMs: 20_000 });
  t.teardown(() => cri.close());
  const logRoot = await mkdtemp(join(tmpdir(), 'moor-cri-runtime-logs-'));
  t.teardown(() => rm(logRoot, { recursive: true, force: true }));
  await cri.pullImage(IMAGES.busybox);

  let seq = 0;
  const podConfig = (over: Partial<PodSandboxConfig> = {}): PodSandboxConfig => {
    seq++;
    return {
      metadata: { name: `rt-${seq}`, uid: `rt-uid-${process.pid}-${seq}`, namespace: 'moor-cri-test', attempt: 0 },
      hostname: `rt-${seq}`,
      logDirectory: join(logRoot, `pod-${seq}`),
      labels: { 'moor.test/suite': 'runtime' },
      ...over,
    };
  };
  const runPod = async (tt: typeof t, config: PodSandboxConfig): Promise<string> => {
    const id = await cri.runPodSandbox(config);
    tt.teardown(() => cri.removePodSandbox(id));
    return id;
  };
  const startContainer = async (sandboxId: string, sandboxConfig: PodSandboxConfig, config: Omit<ContainerConfig, 'image'>): Promise<string> => {
    const id = await cri.createContainer(sandboxId, { image: { image: IMAGES.busybox }, ...config }, sandboxConfig);
    await cri.startContainer(id);
    return id;
  };
  const waitExited = (containerId: string): Promise<ContainerStatus> =>
    waitFor(async () => {
      const s = await cri.containerStatus(containerId);
      return s.state === 'exited' ? s : undefined;
    }, { timeoutMs: 10_000, intervalMs: 20, what: `container ${containerId} to exit` });

  t.test('version and status', async (t) => {
    const v = await cri.version();
    t.equal(v.runtimeName, 'containerd');
    t.equal(v.runtimeApiVersion, 'v1');
    const conditions = (await cri.status()).conditions;
    t.same(conditions.map((c) => [c.type, c.status]), [['RuntimeReady', true], ['NetworkReady', true]]);
  });

  t.test('pull from the local registry, image status, remove', async (t) => {
    const imageRef = await cri.pullImage(IMAGES.busyboxV2);
    const image = await cri.imageStatus(IMAGES.busyboxV2);
    t.equal(image?.id, imageRef, 'PullImage returns the image id');
    t.same(image?.repoTags, [IMAGES.busyboxV2]);
    t.match(image?.repoDigests[0] ?? '', /^127\.0\.0\.1:5000\/moor\/busybox@sha256:[0-9a-f]{64}$/);
    t.not(imageRef, (await cri.imageStatus(IMAGES.busybox))?.id, 'the two busybox tags are different images');
    t.same((await cri.listImages(IMAGES.busyboxV2)).map((i) => i.id), [imageRef], 'list with a filter');
    await cri.removeImage(IMAGES.busyboxV2);
    t.equal(await cri.imageStatus(IMAGES.busyboxV2), undefined, 'gone');
    await cri.removeImage(IMAGES.busyboxV2);
    t.pass('removing again is fine');
    const err = await cri.pullImage('127.0.0.1:5000/moor/busybox:no-such-tag').catch((e: unknown) => e);
    t.ok(isNotFound(err), `a missing tag is NOT_FOUND: ${(err as Error).message}`);
    const fs = await cri.imageFsInfo();
    t.ok(fs.length > 0 && fs[0]!.mountpoint.startsWith(rig.rootDir), `image filesystem under the rig root: ${fs[0]?.mountpoint}`);
  });

  t.test('a pod gets its IP from the CNI bridge network; a host-network pod gets none', async (t) => {
    const config = podConfig();
    const sandboxId = await runPod(t, config);
    const status = await cri.podSandboxStatus(sandboxId);
    const subnetPrefix = rig.podSubnet.replace(/\.0\/24$/, '.');
    t.ok(status.ip.startsWith(subnetPrefix), `pod IP ${status.ip} in ${rig.podSubnet}`);
    t.same(status.namespaceOptions, { network: 'pod', pid: 'pod', ipc: 'pod', targetId: '' });

    const hostConfig = podConfig({ hostname: '', linux: { securityContext: { namespaceOptions: { network: 'node' } } } });
    const hostId = await runPod(t, hostConfig);
    const hostStatus = await cri.podSandboxStatus(hostId);
    t.equal(hostStatus.state, 'ready');
    t.equal(hostStatus.ip, '', 'no pod IP on the node network');
    t.equal(hostStatus.namespaceOptions?.network, 'node');
  });

  t.test('a running container: exec output and exit codes, exec timeout, stats, resources, log reopen, stream URLs', async (t) => {
    const config = podConfig();
    const sandboxId = await runPod(t, config);
    const containerId = await startContainer(sandboxId, config, { metadata: { name: 'sleeper', attempt: 0 }, command: ['sleep', '3600'], logPath: 'sleeper/0.log' });
    t.equal((await cri.containerStatus(containerId)).state, 'running');

    const ok = await cri.execSync(containerId, ['sh', '-c', 'echo out; echo err >&2'], 5);
    t.same([ok.stdout.toString(), ok.stderr.toString(), ok.exitCode], ['out\n', 'err\n', 0]);
    const failed = await cri.execSync(containerId, ['sh', '-c', 'echo bad >&2; exit 7'], 5);
    t.same([failed.stderr.toString(), failed.exitCode], ['bad\n', 7], 'a non-zero exit is a result, not an error');
    const ip = await cri.execSync(containerId, ['ip', '-4', '-o', 'addr', 'show', 'eth0'], 5);
    t.match(ip.stdout.toString(), (await cri.podSandboxStatus(sandboxId)).ip, 'the container sees the pod IP');

    const started = Date.now();
    const timedOut = await cri.execSync(containerId, ['sleep', '5'], 1).catch((e: unknown) => e);
    const elapsedMs = Date.now() - started;
    t.ok(isDeadline(timedOut), `exec past its timeout: ${(timedOut as Error).message}`);
    t.ok(elapsedMs >= 900 && elapsedMs < 3000, `ended by the runtime after ${elapsedMs} ms`);

    const stats = await cri.containerStats(containerId);
    t.equal(stats.id, containerId);
    t.ok((stats.memory?.workingSetBytes ?? 0) > 0, `memory working set ${stats.memory?.workingSetBytes}`);
    t.ok((stats.cpu?.timestampMs ?? 0) > Date.now() - 60_000, 'cpu sample is recent, in ms');
    t.ok((await cri.listContainerStats({ podSandboxId: sandboxId })).some((s) => s.id === containerId), 'listed in stats');

    await cri.updateContainerResources(containerId, { memoryLimitInBytes: 64 * 1024 * 1024, cpuShares: 512 });
    const limit = await readFile(`/sys/fs/cgroup/memory/k8s.io/${containerId}/memory.limit_in_bytes`, 'utf8').catch(() => undefined);
    if (limit === undefined) t.comment('no cgroup v1 memory hierarchy at the expected path; limit not checked in the cgroup');
    else t.equal(limit.trim(), String(64 * 1024 * 1024), 'memory limit landed in the cgroup');
    t.equal((await cri.containerStatus(containerId)).resources?.memoryLimitInBytes, 64 * 1024 * 1024, 'and shows in the status');

    await cri.reopenContainerLog(containerId);
    t.pass('log reopened');
    t.match(await cri.exec({ containerId, cmd: ['sh'], stdin: true, stdout: true }), /^http:\/\/127\.0\.0\.1:\d+\/exec\//, 'exec streaming URL');
    t.match(await cri.attach({ containerId, stdout: true }), /^http:\/\/127\.0\.0\.1:\d+\/attach\//, 'attach streaming URL');
    t.match(await cri.portForward(sandboxId, [80]), /^http:\/\/127\.0\.0\.1:\d+\/portforward\//, 'port-forward streaming URL');
  });

  t.test('finished containers: exit codes, reasons and the CRI log file', async (t) => {
    const config = podConfig();
    const sandboxId = await runPod(t, config);
    const failing = await startContainer(sandboxId, config, {
      metadata: { name: 'failing', attempt: 0 },
      command: ['sh', '-c', 'echo hello; echo oops >&2; exit 3'],
      logPath: 'failing/0.log',
    });
    const done = await startContainer(sandboxId, config, { metadata: { name: 'done', attempt: 0 }, command: ['true'] });

    const failed = await waitExited(failing);
    t.same([failed.exitCode, failed.reason], [3, 'Error']);
    t.ok(failed.finishedAtMs > 0 && failed.startedAtMs > 0, 'start and finish times set');
    t.ok(Math.max(0, failed.finishedAtMs - failed.startedAtMs) < 5000, 'ran briefly (durations clamp at 0)');
    const completed = await waitExited(done);
    t.same([completed.exitCode, completed.reason], [0, 'Completed']);
    t.equal(completed.logPath, '', 'no log path asked, no log file');

    t.equal(failed.logPath, join(config.logDirectory!, 'failing/0.log'));
    const lines = await waitFor(async () => {
      const text = await readFile(failed.logPath, 'utf8');
      const parsed = text.split('\n').filter(Boolean);
      return parsed.length >= 2 ? parsed : undefined;
    }, { timeoutMs: 5000, what: 'two log lines' });
    for (const line of lines) t.match(line, CRI_LOG_LINE, `CRI log format: ${line}`);
    const entries = lines.map((l) => CRI_LOG_LINE.exec(l)!.slice(2).join(' '));
    t.same(entries.sort(), ['stderr F oops', 'stdout F hello']);
    const stamp = Date.parse(CRI_LOG_LINE.exec(lines[0]!)![1]!);
    t.ok(Math.abs(stamp - failed.startedAtMs) < 5000, 'timestamps are UTC wall time');

    const start = await startContainer(sandboxId, config, { metadata: { name: 'missing-binary', attempt: 0 }, command: ['/does/not/exist'] }).catch((e: unknown) => e);
    t.match((start as Error).message, /no such file or directory/, 'a missing executable fails at StartContainer');
    const [broken] = await cri.listContainers({ podSandboxId: sandboxId, labelSelector: {} }).then((all) => all.filter((c) => c.metadata.name === 'missing-binary'));
    const brokenStatus = await cri.containerStatus(broken!.id);
    t.same([brokenStatus.state, brokenStatus.exitCode, brokenStatus.reason, brokenStatus.startedAtMs], ['exited', 128, 'StartError', 0]);
  });

  t.test('moor cri prints the runtime as JSON', async (t) => {
    const node = ['--import', 'tsx', join(repoRoot, 'cli/moor.ts'), 'cri', '--container-runtime-endpoint', rig.endpoint];
    const version = await run(process.execPath, [...node, 'version'], { cwd: repoRoot });
    t.match(JSON.parse(version.stdout), { runtimeName: 'containerd', runtimeApiVersion: 'v1' });
    const missing = await run(process.execPath, [...node.slice(0, -1), 'unix:///run/moor-test/absent.sock', 'pods'], { cwd: repoRoot }).catch((e: { code: number; stderr: string }) => e);
    t.equal((missing as { code: number }).code, 1, 'exit status 1 on failure');
    t.match((missing as { stderr: string }).stderr, 'moor cri: cri list pod sandbox: unavailable: connect /run/moor-test/absent.sock: socket does not exist');
  });
});
