// `moor agent` as a real process: it refuses to start on a bad flag or an unreachable runtime;
// SIGTERM stops it and leaves the pods running; started again (after SIGTERM or SIGKILL) it adopts
// every pod without restarting or duplicating a container, with restart counts and readiness
// carried on; and it rides out a containerd restart.

import t, { type Test } from 'tap';
import { startContainerdRig, IMAGES } from '../../helpers/containerd-rig.ts';
import { createCriClient } from '../../../agent/cri/client.ts';
import type { CriClient } from '../../../agent/cri/types.ts';
import type { Pod } from '../../../agent/pod/types.ts';
import { waitFor } from '../../../common/wait.ts';
import { flagsFor, makeDirs, podManifest, ready, sleeper, startAgentProcess, waitPod, writeManifest, type AgentProcess } from './harness.ts';

const skip = process.getuid?.() === 0 ? false : 'needs root (containerd)';
const BB = IMAGES.busybox;

t.test('refuses to start with a clear message', async (t) => {
  const dirs = await makeDirs(t);
  const badFlag = await startAgentProcess(t, { 'max-pods': 'many' }, { logFile: `${dirs.base}/bad-flag.log`, expectExit: true });
  t.same(await badFlag.exited, { code: 2, signal: null });
  const { readFile } = await import('node:fs/promises');
  t.match(await readFile(badFlag.logFile, 'utf8'), /moor agent: flag --max-pods: invalid value "many": must be a non-negative integer/);

  const noRuntime = await startAgentProcess(t, {
    'container-runtime-endpoint': `unix://${dirs.base}/nope.sock`, 'root-dir': dirs.root, 'pod-logs-dir': dirs.logs, 'pod-manifest-path': dirs.manifests, port: '0',
  }, { logFile: `${dirs.base}/no-runtime.log`, expectExit: true });
  t.same(await noRuntime.exited, { code: 1, signal: null });
  t.match(await readFile(noRuntime.logFile, 'utf8'), new RegExp(`moor agent: connect to container runtime unix://${dirs.base}/nope\\.sock: .*socket does not exist`));
});

/** Container ids of every container of every pod, with restart counts. */
function fingerprint(pods: Pod[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pods) for (const c of p.status?.containerStatuses ?? []) out[`${p.metadata.name}/${c.name}`] = `${c.containerID}#${c.restartCount}`;
  return out;
}

async function runtimeContainers(cri: CriClient): Promise<string[]> {
  return (await cri.listContainers()).map((c) => `${c.id}:${c.state}`).sort();
}

t.test('restart safety: SIGTERM leaves pods running; restart after SIGTERM and SIGKILL adopts them; containerd restart', { skip, timeout: 280_000 }, async (t) => {
  const rig = await startContainerdRig();
  t.teardown(() => rig.stop());
  const dirs = await makeDirs(t, rig);
  const cri = createCriClient({ endpoint: rig.endpoint, timeoutMs: 20_000 });
  t.teardown(() => cri.close());
  const flags = flagsFor(rig, dirs, { 'relist-period': '300ms' });
  const logFile = `${dirs.base}/agent.log`;

  await writeManifest(dirs, 'pods.yaml', [
    podManifest('steady', {
      containers: [{ name: 'main', image: BB, command: sleeper(), readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 } }],
    }),
    podManifest('restarted-once', {
      volumes: [{ name: 'state', emptyDir: {} }],
      containers: [{ name: 'main', image: BB, volumeMounts: [{ name: 'state', mountPath: '/state' }], command: sleeper('if [ ! -f /state/once ]; then touch /state/once; exit 1; fi') }],
    }),
  ]);

  let agent: AgentProcess = await startAgentProcess(t, flags, { logFile });
  const settled = async (a: AgentProcess) => {
    await waitPod(a, 'steady', (p) => p.status?.phase === 'Running' && ready(p), 'steady ready');
    return waitPod(a, 'restarted-once', (p) => p.status?.containerStatuses[0].restartCount === 1 && ready(p), 'restarted once, then ready');
  };
  await settled(agent);
  const before = fingerprint(await agent.pods());
  const containersBefore = await runtimeContainers(cri);

  await t.test('SIGTERM stops the agent, not the pods', async (t) => {
    agent.child.kill('SIGTERM');
    t.same(await agent.exited, { code: 0, signal: null });
    t.same(await runtimeContainers(cri), containersBefore, 'every container still there, in the same state');
    t.ok((await agent.logLines()).some((l) => l.msg === 'agent stopped; pods left running'));
  });

  /** Start the agent again; watch Ready from its first answer on: it must never read False. */
  const outer = t;
  const restartAndCheck = async (t: Test, how: string): Promise<void> => {
    // Owned by the outer test: the agent must outlive this subtest.
    agent = await startAgentProcess(outer, flags, { logFile });
    const readyStates = new Set<string>();
    const poll = async () => {
      for (const p of await agent.pods()) readyStates.add(`${p.metadata.name}:${p.status?.conditions.find((c) => c.type === 'Ready')?.status}`);
    };
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline) {
      await poll();
      await new Promise((r) => setTimeout(r, 50));
    }
    const after = await settled(agent);
    t.ok(after);
    t.same(fingerprint(await agent.pods()), before, `${how}: same containers, same restart counts`);
    t.same([...readyStates].filter((s) => !s.endsWith(':True')), [], `${how}: Ready never dropped`);
    t.same(await runtimeContainers(cri), containersBefore, `${how}: nothing created, restarted or removed in the runtime`);
  };

  await t.test('started again after SIGTERM: adopts the pods', async (t) => {
    await restartAndCheck(t, 'after SIGTERM');
  });

  await t.test('SIGKILL and start again: adopts the pods', async (t) => {
    agent.child.kill('SIGKILL');
    t.same(await agent.exited, { code: null, signal: 'SIGKILL' });
    await restartAndCheck(t, 'after SIGKILL');
  });

  await t.test('containerd restarts under the agent: pods keep running, the agent reconnects and carries on', async (t) => {
    await rig.restart();
    await writeManifest(dirs, 'after.yaml', podManifest('after-restart', { containers: [{ name: 'main', image: BB, command: sleeper() }] }));
    await waitPod(agent, 'after-restart', (p) => p.status?.phase === 'Running', 'a new pod runs after the containerd restart');
    t.same(fingerprint((await agent.pods()).filter((p) => !p.metadata.name.startsWith('after-restart'))), before, 'the old pods were not restarted');
    t.equal((await fetch(`${agent.url}/healthz`)).status, 200);

    // SIGKILL leaves the socket file behind: calls wait for the runtime (up to the request timeout)
    // instead of failing; the agent keeps answering with the last statuses meanwhile.
    await rig.kill();
    await new Promise((r) => setTimeout(r, 1500));
    t.equal((await agent.pods()).filter((p) => p.status?.phase === 'Running').length, 3, 'statuses stay as they were while containerd is down');
    t.equal((await fetch(`${agent.url}/healthz`)).status, 200);
    await rig.start();
    await writeManifest(dirs, 'after-kill.yaml', podManifest('after-kill', { containers: [{ name: 'main', image: BB, command: sleeper() }] }));
    await waitPod(agent, 'after-kill', (p) => p.status?.phase === 'Running', 'a new pod runs after containerd came back');
    t.same(fingerprint((await agent.pods()).filter((p) => !p.metadata.name.startsWith('after-'))), before, 'still the same containers');
  });
});
