import t from 'tap';
import { NO_PROBES, planPodSync, planGarbage, type PlanInput, type ProbeResult } from '../../../../agent/pod/plan.ts';
import type { ObservedContainer, ObservedSandbox } from '../../../../agent/pod/observed.ts';
import type { Pod } from '../../../../agent/pod/types.ts';
import { container, exited, hashesOf, makePod, observed, sandbox, sandboxHashOf } from '../../../fixtures/agent/pods.ts';

const NOW = 100_000;

interface Case {
  name: string;
  spec?: Record<string, unknown>;
  sandboxes?: (pod: Pod) => ObservedSandbox[];
  containers?: (pod: Pod) => ObservedContainer[];
  liveness?: Record<string, ProbeResult>;
  startup?: Record<string, ProbeResult>;
  backoff?: Record<string, number>;
  extra?: Partial<PlanInput>;
  want: Record<string, unknown>;
}

const two = { containers: [{ name: 'a', image: 'reg/a:1' }, { name: 'b', image: 'reg/b:1' }] };
const withInit = {
  initContainers: [{ name: 'i1', image: 'reg/i:1' }, { name: 'i2', image: 'reg/i:1' }],
  containers: [{ name: 'app', image: 'reg/app:1' }],
};

const cases: Case[] = [
  {
    name: 'new pod: create sandbox attempt 0 and start every container',
    spec: two,
    sandboxes: () => [],
    containers: () => [],
    want: { killPod: false, createSandbox: true, sandboxAttempt: 0, start: [0, 1], kill: [] },
  },
  {
    name: 'new pod with init containers: only the first init container starts',
    spec: withInit,
    sandboxes: () => [],
    containers: () => [],
    want: { createSandbox: true, nextInit: 0, start: [] },
  },
  {
    name: 'steady state: nothing to do',
    spec: two,
    containers: (p) => [container(p, 'a'), container(p, 'b')],
    want: { killPod: false, createSandbox: false, sandboxId: 'sb1', start: [], kill: [], backoff: [] },
  },
  {
    name: 'one container missing in a ready sandbox: start it alone',
    spec: two,
    containers: (p) => [container(p, 'a')],
    want: { createSandbox: false, sandboxId: 'sb1', start: [1] },
  },
  {
    name: 'sandbox dead: kill pod, new sandbox with the next attempt, start all',
    spec: two,
    sandboxes: (p) => [sandbox(p, { state: 'notready', attempt: 2 })],
    containers: (p) => [exited(p, 'a', 137), exited(p, 'b', 137)],
    want: { killPod: false, killPodReason: 'sandbox-not-ready', createSandbox: true, sandboxAttempt: 3, start: [0, 1] },
  },
  {
    name: 'sandbox lost its IP: recreate',
    sandboxes: (p) => [sandbox(p, { ip: '' })],
    containers: (p) => [container(p, 'app')],
    want: { killPod: true, killPodReason: 'network-lost', createSandbox: true, sandboxAttempt: 1 },
  },
  {
    name: 'host network pods have no IP of their own: fine',
    spec: { hostNetwork: true },
    sandboxes: (p) => [sandbox(p, { ip: '', hostNetwork: true })],
    containers: (p) => [container(p, 'app')],
    want: { killPod: false, createSandbox: false },
  },
  {
    name: 'network mode changed: recreate',
    spec: { hostNetwork: true },
    containers: (p) => [container(p, 'app')],
    want: { killPod: true, killPodReason: 'network-mode-changed', createSandbox: true },
  },
  {
    name: 'sandbox-level spec changed (hash): recreate',
    sandboxes: (p) => [sandbox(p, { sandboxHash: 'old' })],
    containers: (p) => [container(p, 'app')],
    want: { killPod: true, killPodReason: 'sandbox-spec-changed', createSandbox: true },
  },
  {
    name: 'two ready sandboxes: kill both, start over',
    sandboxes: (p) => [sandbox(p, { id: 'sb2', attempt: 1, createdAtMs: 2000 }), sandbox(p)],
    containers: (p) => [container(p, 'app')],
    want: { killPod: true, killPodReason: 'multiple-sandboxes', createSandbox: true, sandboxAttempt: 2 },
  },
  {
    name: 'restartPolicy Never and the sandbox died after containers ran: no new sandbox',
    spec: { restartPolicy: 'Never' },
    sandboxes: (p) => [sandbox(p, { state: 'notready' })],
    containers: (p) => [exited(p, 'app', 1)],
    want: { killPod: false, createSandbox: false, start: [] },
  },
  {
    name: 'OnFailure, all succeeded, sandbox stopped: no new sandbox',
    spec: { restartPolicy: 'OnFailure' },
    sandboxes: (p) => [sandbox(p, { state: 'notready' })],
    containers: (p) => [exited(p, 'app', 0)],
    want: { killPod: false, createSandbox: false, killPodReason: 'pod-completed' },
  },
  {
    name: 'OnFailure, new sandbox skips the container that succeeded',
    spec: { restartPolicy: 'OnFailure', ...two },
    sandboxes: (p) => [sandbox(p, { state: 'notready' })],
    containers: (p) => [exited(p, 'a', 0), exited(p, 'b', 2)],
    want: { createSandbox: true, start: [1] },
  },
  {
    name: 'spec changed: kill and restart at once, even while in backoff',
    containers: (p) => [container(p, 'app', { hash: 'old-hash' })],
    backoff: { app: NOW + 5000 },
    want: { kill: [{ id: 'app-0', name: 'app', reason: 'spec-changed' }], start: [0], backoff: [] },
  },
  {
    name: 'liveness failure: kill and restart',
    containers: (p) => [container(p, 'app')],
    liveness: { 'app-0': 'failure' },
    want: { kill: [{ id: 'app-0', name: 'app', reason: 'liveness' }], start: [0], killPod: false },
  },
  {
    name: 'liveness failure with restartPolicy Never: kill, no restart, pod completes',
    spec: { restartPolicy: 'Never' },
    containers: (p) => [container(p, 'app')],
    liveness: { 'app-0': 'failure' },
    want: { kill: [{ id: 'app-0', name: 'app', reason: 'liveness' }], start: [], killPod: true, killPodReason: 'pod-completed' },
  },
  {
    name: 'startup probe failure: kill and restart',
    containers: (p) => [container(p, 'app')],
    startup: { 'app-0': 'failure' },
    want: { kill: [{ id: 'app-0', name: 'app', reason: 'startup' }], start: [0] },
  },
  {
    name: 'liveness success or unknown: keep',
    containers: (p) => [container(p, 'app')],
    liveness: { 'app-0': 'unknown' },
    want: { kill: [], start: [] },
  },
  {
    name: 'Always: exited 0 restarts',
    containers: (p) => [exited(p, 'app', 0)],
    want: { start: [0], killPod: false },
  },
  {
    name: 'OnFailure: exited 0 stays, pod completes (sandbox stopped)',
    spec: { restartPolicy: 'OnFailure' },
    containers: (p) => [exited(p, 'app', 0)],
    want: { start: [], killPod: true, killPodReason: 'pod-completed' },
  },
  {
    name: 'OnFailure: exited 1 restarts',
    spec: { restartPolicy: 'OnFailure' },
    containers: (p) => [exited(p, 'app', 1)],
    want: { start: [0], killPod: false },
  },
  {
    name: 'Never: exited 1 stays',
    spec: { restartPolicy: 'Never' },
    containers: (p) => [exited(p, 'app', 1)],
    want: { start: [], killPod: true },
  },
  {
    name: 'crash loop: exited container in backoff waits, the pod is not killed',
    containers: (p) => [exited(p, 'app', 1)],
    backoff: { app: NOW + 10_000 },
    want: { start: [], backoff: [{ name: 'app', init: false, untilMs: NOW + 10_000 }], killPod: false },
  },
  {
    name: 'crash loop: backoff over, restart',
    containers: (p) => [exited(p, 'app', 1)],
    backoff: { app: NOW },
    want: { start: [0], backoff: [] },
  },
  {
    name: 'created but never started (agent died in between): start anew',
    containers: (p) => [container(p, 'app', { state: 'created', startedAtMs: 0 })],
    want: { start: [0], kill: [] },
  },
  {
    name: 'unknown state: kill it, then start',
    containers: (p) => [container(p, 'app', { state: 'unknown' })],
    want: { kill: [{ id: 'app-0', name: 'app', reason: 'unknown-state' }], start: [0] },
  },
  {
    name: 'a running container whose name left the spec is killed',
    containers: (p) => [container(p, 'app'), container(p, 'old')],
    want: { kill: [{ id: 'old-0', name: 'old', reason: 'not-in-spec' }], start: [] },
  },
  {
    name: 'init: first running, wait',
    spec: withInit,
    containers: (p) => [container(p, 'i1')],
    want: { nextInit: undefined, start: [], killPod: false },
  },
  {
    name: 'init: first done, second next',
    spec: withInit,
    containers: (p) => [exited(p, 'i1', 0)],
    want: { nextInit: 1, start: [] },
  },
  {
    name: 'init: all done, regular containers start',
    spec: withInit,
    containers: (p) => [exited(p, 'i2', 0, { createdAtMs: 3000 }), exited(p, 'i1', 0)],
    want: { nextInit: undefined, start: [0] },
  },
  {
    name: 'init: one failed, policy Always: run it again',
    spec: withInit,
    containers: (p) => [exited(p, 'i2', 1, { createdAtMs: 3000 }), exited(p, 'i1', 0)],
    want: { nextInit: 1, killPod: false },
  },
  {
    name: 'init: one failed, in backoff: wait',
    spec: withInit,
    containers: (p) => [exited(p, 'i2', 1, { createdAtMs: 3000 }), exited(p, 'i1', 0)],
    backoff: { i2: NOW + 1 },
    want: { nextInit: undefined, backoff: [{ name: 'i2', init: true, untilMs: NOW + 1 }] },
  },
  {
    name: 'init: one failed, policy Never: the pod fails',
    spec: { ...withInit, restartPolicy: 'Never' },
    containers: (p) => [exited(p, 'i1', 1)],
    want: { killPod: true, killPodReason: 'init-container-failed', nextInit: undefined },
  },
  {
    name: 'init: a regular container already runs (init statuses gone): initialised',
    spec: withInit,
    containers: (p) => [container(p, 'app')],
    want: { nextInit: undefined, start: [] },
  },
  {
    name: 'init: a new sandbox runs init containers again from the first',
    spec: withInit,
    sandboxes: (p) => [sandbox(p, { id: 'sb2', attempt: 1, createdAtMs: 5000 }), sandbox(p, { state: 'notready' })],
    containers: (p) => [exited(p, 'app', 137), exited(p, 'i2', 0), exited(p, 'i1', 0)],
    want: { nextInit: 0, sandboxId: 'sb2' },
  },
  {
    name: 'terminal pod: only make sure it is stopped',
    containers: (p) => [container(p, 'app')],
    extra: { terminal: true },
    want: { killPod: true, killPodReason: 'pod-terminal', createSandbox: false, start: [] },
  },
  {
    name: 'terminal pod already stopped: nothing',
    sandboxes: (p) => [sandbox(p, { state: 'notready' })],
    containers: (p) => [exited(p, 'app', 0)],
    extra: { terminal: true },
    want: { killPod: false, createSandbox: false },
  },
  {
    name: 'active deadline passed: kill, fail the pod',
    spec: { activeDeadlineSeconds: 10 },
    containers: (p) => [container(p, 'app')],
    extra: { startTimeMs: NOW - 10_000 },
    want: { killPod: true, killPodReason: 'deadline-exceeded', terminal: { phase: 'Failed', reason: 'DeadlineExceeded' } },
  },
  {
    name: 'active deadline not yet passed',
    spec: { activeDeadlineSeconds: 10 },
    containers: (p) => [container(p, 'app')],
    extra: { startTimeMs: NOW - 9_999 },
    want: { killPod: false, terminal: undefined },
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const pod = makePod(c.spec ?? {});
    const input: PlanInput = {
      pod,
      seen: observed(c.sandboxes ? c.sandboxes(pod) : [sandbox(pod)], c.containers ? c.containers(pod) : []),
      probes: {
        liveness: new Map(Object.entries(c.liveness ?? {})),
        startup: new Map(Object.entries(c.startup ?? {})),
      },
      backoff: new Map(Object.entries(c.backoff ?? {})),
      now: NOW,
      containerHashes: hashesOf(pod),
      sandboxHash: sandboxHashOf(pod),
      ...c.extra,
    };
    const actions = planPodSync(input);
    for (const [key, want] of Object.entries(c.want)) {
      if (want === undefined) t.equal((actions as unknown as Record<string, unknown>)[key], undefined, key);
      else t.match((actions as unknown as Record<string, unknown>)[key], want, key);
    }
    // Arrays must match exactly, not as a prefix.
    for (const key of ['start', 'kill', 'backoff'] as const) {
      if (Array.isArray(c.want[key])) t.equal(actions[key].length, (c.want[key] as unknown[]).length, `${key} length`);
    }
  });
}

t.test('garbage: keep the newest exited instance per name, drop older ones, then emptied dead sandboxes', async (t) => {
  const pod = makePod();
  const seen = observed(
    [sandbox(pod, { id: 'sb2', attempt: 1, createdAtMs: 5000 }), sandbox(pod, { state: 'notready' }), sandbox(pod, { id: 'sb0', state: 'notready', createdAtMs: 10 })],
    [
      container(pod, 'app', { restartCount: 3, sandboxId: 'sb2' }),
      exited(pod, 'app', 1, { restartCount: 2, sandboxId: 'sb2' }),
      exited(pod, 'app', 1, { restartCount: 1 }),
      exited(pod, 'app', 1, { restartCount: 0 }),
      exited(pod, 'gone', 0, { sandboxId: 'sb0' }),
    ],
  );
  const g = planGarbage(pod.spec, seen);
  t.same(g.removeContainers.sort(), ['app-0', 'app-1', 'gone-0']);
  t.same(g.removeSandboxes.sort(), ['sb0', 'sb1']);
  const all = planGarbage(undefined, seen);
  t.same(all.removeContainers.sort(), ['app-0', 'app-1', 'app-2', 'gone-0'], 'a removed pod keeps nothing but what runs');
});

t.test('NO_PROBES is empty', async (t) => {
  t.equal(NO_PROBES.liveness.size + NO_PROBES.startup.size, 0);
});
