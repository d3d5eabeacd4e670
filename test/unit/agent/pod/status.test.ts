import t, { type Test } from 'tap';
import type { ProbeResult } from '../../../../agent/pod/plan.ts';
import { buildPodStatus, normaliseStatus, type StatusInput, type WaitingReason } from '../../../../agent/pod/status.ts';
import type { ObservedContainer, ObservedSandbox } from '../../../../agent/pod/observed.ts';
import type { Pod, PodStatus } from '../../../../agent/pod/types.ts';
import { container, exited, makePod, observed, sandbox } from '../../../fixtures/agent/pods.ts';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);

interface Case {
  name: string;
  spec?: Record<string, unknown>;
  sandboxes?: (p: Pod) => ObservedSandbox[];
  containers?: (p: Pod) => ObservedContainer[];
  readiness?: Record<string, ProbeResult>;
  startup?: Record<string, ProbeResult>;
  reasons?: Record<string, WaitingReason>;
  previous?: Partial<PodStatus>;
  terminal?: StatusInput['terminal'];
  want: (s: PodStatus, t: Test) => void;
}

function cond(s: PodStatus, type: string): string | undefined {
  return s.conditions.find((c) => c.type === type)?.status;
}

const withInit = { initContainers: [{ name: 'init', image: 'i:1' }], containers: [{ name: 'app', image: 'a:1' }] };

const cases: Case[] = [
  {
    name: 'nothing created yet: Pending, ContainerCreating',
    sandboxes: () => [],
    want: (s, t) => {
      t.equal(s.phase, 'Pending');
      t.same(s.containerStatuses[0].state, { waiting: { reason: 'ContainerCreating' } });
      t.equal(cond(s, 'PodScheduled'), 'True');
      t.equal(cond(s, 'Initialized'), 'True');
      t.equal(cond(s, 'Ready'), 'False');
      t.equal(s.podIP, undefined);
      t.equal(s.qosClass, 'BestEffort');
    },
  },
  {
    name: 'running, no probes: Running and Ready, pod IP from the sandbox',
    containers: (p) => [container(p, 'app')],
    want: (s, t) => {
      t.equal(s.phase, 'Running');
      t.equal(cond(s, 'Ready'), 'True');
      t.equal(cond(s, 'ContainersReady'), 'True');
      t.equal(s.podIP, '10.0.0.5');
      t.same(s.podIPs, [{ ip: '10.0.0.5' }]);
      t.equal(s.hostIP, '192.0.2.1');
      const c = s.containerStatuses[0];
      t.equal(c.ready, true);
      t.equal(c.started, true);
      t.equal(c.containerID, 'containerd://app-0');
      t.equal(c.imageID, 'reg.example/app@sha256:abc');
      t.ok(c.state.running?.startedAt);
    },
  },
  {
    name: 'readiness probe not yet succeeded: not ready',
    spec: { containers: [{ name: 'app', image: 'a:1', readinessProbe: { exec: { command: ['true'] } } }] },
    containers: (p) => [container(p, 'app')],
    want: (s, t) => {
      t.equal(s.phase, 'Running');
      t.equal(s.containerStatuses[0].ready, false);
      t.equal(cond(s, 'Ready'), 'False');
      t.equal(s.conditions.find((c) => c.type === 'Ready')?.reason, 'ContainersNotReady');
      t.equal(s.conditions.find((c) => c.type === 'Ready')?.message, 'containers with unready status: [app]');
    },
  },
  {
    name: 'readiness probe success: ready',
    spec: { containers: [{ name: 'app', image: 'a:1', readinessProbe: { exec: { command: ['true'] } } }] },
    containers: (p) => [container(p, 'app')],
    readiness: { 'app-0': 'success' },
    want: (s, t) => t.equal(cond(s, 'Ready'), 'True'),
  },
  {
    name: 'startup probe pending: not started, not ready',
    spec: { containers: [{ name: 'app', image: 'a:1', startupProbe: { exec: { command: ['true'] } } }] },
    containers: (p) => [container(p, 'app')],
    want: (s, t) => {
      t.equal(s.containerStatuses[0].started, false);
      t.equal(s.containerStatuses[0].ready, false);
    },
  },
  {
    name: 'crash loop: waiting CrashLoopBackOff with the last termination; Running for Always',
    containers: (p) => [exited(p, 'app', 2, { restartCount: 3 }), exited(p, 'app', 2, { restartCount: 2 })],
    reasons: { app: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=app' } },
    want: (s, t) => {
      const c = s.containerStatuses[0];
      t.same(c.state, { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=app' } });
      t.equal(c.lastState.terminated?.exitCode, 2);
      t.equal(c.lastState.terminated?.reason, 'Error');
      t.equal(c.restartCount, 3);
      t.equal(s.phase, 'Running');
    },
  },
  {
    name: 'exited without a reason from the sync: terminated shows',
    containers: (p) => [exited(p, 'app', 1)],
    want: (s, t) => {
      t.equal(s.containerStatuses[0].state.terminated?.exitCode, 1);
      t.equal(s.containerStatuses[0].state.terminated?.reason, 'Error');
    },
  },
  {
    name: 'ErrImagePull then ImagePullBackOff: Pending',
    sandboxes: (p) => [sandbox(p)],
    reasons: { app: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' } },
    want: (s, t) => {
      t.same(s.containerStatuses[0].state, { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' } });
      t.equal(s.phase, 'Pending');
    },
  },
  {
    name: 'OOMKilled shows as the termination reason',
    spec: { restartPolicy: 'Never' },
    containers: (p) => [exited(p, 'app', 137, { reason: 'OOMKilled' })],
    want: (s, t) => {
      t.equal(s.containerStatuses[0].state.terminated?.reason, 'OOMKilled');
      t.equal(s.containerStatuses[0].state.terminated?.signal, 9);
      t.equal(s.phase, 'Failed');
    },
  },
  {
    name: 'Never, exit 0: Succeeded, Ready False with PodCompleted',
    spec: { restartPolicy: 'Never' },
    containers: (p) => [exited(p, 'app', 0)],
    want: (s, t) => {
      t.equal(s.phase, 'Succeeded');
      t.equal(s.containerStatuses[0].state.terminated?.reason, 'Completed');
      t.equal(s.conditions.find((c) => c.type === 'Ready')?.reason, 'PodCompleted');
    },
  },
  {
    name: 'OnFailure, exit 1, will restart: Running',
    spec: { restartPolicy: 'OnFailure' },
    containers: (p) => [exited(p, 'app', 1)],
    want: (s, t) => t.equal(s.phase, 'Running'),
  },
  {
    name: 'init containers pending: PodInitializing, Initialized False',
    spec: withInit,
    containers: (p) => [container(p, 'init')],
    want: (s, t) => {
      t.equal(s.phase, 'Pending');
      t.same(s.containerStatuses[0].state, { waiting: { reason: 'PodInitializing' } });
      t.ok(s.initContainerStatuses![0].state.running);
      t.equal(cond(s, 'Initialized'), 'False');
      t.equal(s.conditions.find((c) => c.type === 'Initialized')?.message, 'containers with incomplete status: [init]');
    },
  },
  {
    name: 'init done: Initialized, init container ready and Completed',
    spec: withInit,
    containers: (p) => [container(p, 'app', { createdAtMs: 9000 }), exited(p, 'init', 0)],
    want: (s, t) => {
      t.equal(cond(s, 'Initialized'), 'True');
      t.equal(s.initContainerStatuses![0].ready, true);
      t.equal(s.initContainerStatuses![0].state.terminated?.reason, 'Completed');
      t.equal(s.phase, 'Running');
    },
  },
  {
    name: 'init failed with Never: Failed',
    spec: { ...withInit, restartPolicy: 'Never' },
    containers: (p) => [exited(p, 'init', 3)],
    want: (s, t) => t.equal(s.phase, 'Failed'),
  },
  {
    name: 'init failed with Always, in backoff: Pending, CrashLoopBackOff on the init container',
    spec: withInit,
    containers: (p) => [exited(p, 'init', 3)],
    reasons: { init: { reason: 'CrashLoopBackOff', message: '' } },
    want: (s, t) => {
      t.equal(s.phase, 'Pending');
      t.same(s.initContainerStatuses![0].state, { waiting: { reason: 'CrashLoopBackOff' } });
    },
  },
  {
    name: 'a final phase sticks',
    containers: (p) => [container(p, 'app')],
    previous: { phase: 'Failed', reason: 'DeadlineExceeded', message: 'm' },
    want: (s, t) => {
      t.equal(s.phase, 'Failed');
      t.equal(s.reason, 'DeadlineExceeded');
    },
  },
  {
    name: 'terminal from outside the containers',
    containers: (p) => [container(p, 'app')],
    terminal: { phase: 'Failed', reason: 'DeadlineExceeded', message: 'too long' },
    want: (s, t) => {
      t.equal(s.phase, 'Failed');
      t.equal(s.message, 'too long');
    },
  },
  {
    name: 'stopped sandbox keeps the last pod IP; startTime carries over',
    spec: { restartPolicy: 'Never' },
    sandboxes: (p) => [sandbox(p, { state: 'notready', ip: '' })],
    containers: (p) => [exited(p, 'app', 0)],
    previous: { podIP: '10.0.0.9', startTime: '2026-01-01T00:00:00Z' },
    want: (s, t) => {
      t.equal(s.podIP, '10.0.0.9');
      t.equal(s.startTime, '2026-01-01T00:00:00Z');
    },
  },
  {
    name: 'host network: pod IP is the host IP',
    spec: { hostNetwork: true },
    sandboxes: (p) => [sandbox(p, { ip: '', hostNetwork: true })],
    containers: (p) => [container(p, 'app')],
    want: (s, t) => t.equal(s.podIP, '192.0.2.1'),
  },
  {
    name: 'guaranteed QoS',
    spec: { containers: [{ name: 'app', image: 'a:1', resources: { limits: { cpu: '1', memory: '1Gi' } } }] },
    want: (s, t) => t.equal(s.qosClass, 'Guaranteed'),
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const pod = makePod(c.spec ?? {});
    const s = buildPodStatus({
      pod,
      seen: observed(c.sandboxes ? c.sandboxes(pod) : [sandbox(pod)], c.containers ? c.containers(pod) : []),
      readiness: new Map(Object.entries(c.readiness ?? {})),
      startup: new Map(Object.entries(c.startup ?? {})),
      reasons: new Map(Object.entries(c.reasons ?? {})),
      ...(c.previous ? { previous: { phase: 'Running', conditions: [], containerStatuses: [], qosClass: 'BestEffort', ...c.previous } } : {}),
      ...(c.terminal ? { terminal: c.terminal } : {}),
      hostIp: '192.0.2.1',
      now: NOW,
    });
    c.want(s, t);
  });
}

t.test('lastTransitionTime moves only on a change of status', async (t) => {
  const pod = makePod();
  const seen = observed([sandbox(pod)], [container(pod, 'app')]);
  const base = { pod, seen, readiness: new Map(), startup: new Map(), reasons: new Map(), hostIp: '192.0.2.1' };
  const first = buildPodStatus({ ...base, now: NOW });
  const second = buildPodStatus({ ...base, now: NOW + 60_000, previous: first });
  t.same(second.conditions, first.conditions);
  t.equal(normaliseStatus(first), normaliseStatus(second));
  const stopped = buildPodStatus({ ...base, seen: observed([sandbox(pod)], [exited(pod, 'app', 1)]), now: NOW + 60_000, previous: first });
  t.not(stopped.conditions.find((c) => c.type === 'Ready')?.lastTransitionTime, first.conditions.find((c) => c.type === 'Ready')?.lastTransitionTime);
  t.not(normaliseStatus(first), normaliseStatus(stopped));
});
