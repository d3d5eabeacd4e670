import t from 'tap';
import { KeyedBackoff } from '../../../../common/backoff.ts';
import { computeBackoffView, crashLoopKey, findNextInit, nextRestartCount, shouldRestartContainer } from '../../../../agent/pod/restart.ts';
import type { ContainerState } from '../../../../agent/cri/types.ts';
import { container, exited, makePod, observed, sandbox, UID } from '../../../fixtures/agent/pods.ts';

t.test('shouldRestartContainer: restart policy table', async (t) => {
  const cases: [string, ContainerState | undefined, number, boolean][] = [
    ['Always', undefined, 0, true], ['Always', 'running', 0, false], ['Always', 'created', 0, true], ['Always', 'unknown', 0, true],
    ['Always', 'exited', 0, true], ['Always', 'exited', 1, true],
    ['OnFailure', 'exited', 0, false], ['OnFailure', 'exited', 137, true], ['OnFailure', undefined, 0, true],
    ['Never', 'exited', 0, false], ['Never', 'exited', 1, false], ['Never', 'created', 0, true], ['Never', undefined, 0, true],
  ];
  for (const [policy, state, exitCode, want] of cases) {
    const latest = state === undefined ? undefined : { state, exitCode };
    t.equal(shouldRestartContainer(policy as 'Always', latest), want, `${policy} ${state ?? 'none'} ${exitCode}`);
  }
});

t.test('findNextInit', async (t) => {
  const pod = makePod({ initContainers: [{ name: 'i1', image: 'i:1' }, { name: 'i2', image: 'i:1' }, { name: 'i3', image: 'i:1' }] });
  const cases: { name: string; containers: ReturnType<typeof container>[]; want: object }[] = [
    { name: 'none ran', containers: [], want: { done: false, next: 0 } },
    { name: 'first running', containers: [container(pod, 'i1')], want: { done: false } },
    { name: 'first ok', containers: [exited(pod, 'i1', 0)], want: { done: false, next: 1 } },
    { name: 'second failed', containers: [exited(pod, 'i2', 2, { createdAtMs: 3000 }), exited(pod, 'i1', 0)], want: { done: false, next: 1 } },
    { name: 'second unknown', containers: [container(pod, 'i2', { state: 'unknown', createdAtMs: 3000 }), exited(pod, 'i1', 0)], want: { done: false, next: 1 } },
    { name: 'all ok', containers: [exited(pod, 'i3', 0, { createdAtMs: 4000 }), exited(pod, 'i2', 0, { createdAtMs: 3000 }), exited(pod, 'i1', 0)], want: { done: true } },
    { name: 'regular running', containers: [container(pod, 'app')], want: { done: true } },
    { name: 'second created, never started', containers: [container(pod, 'i2', { state: 'created', createdAtMs: 3000 }), exited(pod, 'i1', 0)], want: { done: false, next: 1 } },
  ];
  for (const c of cases) {
    const r = findNextInit(pod.spec, observed([sandbox(pod)], c.containers), 'sb1');
    t.same({ done: r.done, ...(r.next !== undefined ? { next: r.next } : {}) }, c.want, c.name);
  }
  t.same(findNextInit(makePod().spec, observed([], []), 'sb1'), { done: true }, 'no init containers');
  const other = findNextInit(pod.spec, observed([sandbox(pod)], [exited(pod, 'i1', 0, { sandboxId: 'old' })]), 'sb1');
  t.same(other, { done: false, next: 0 }, 'instances of another sandbox do not count');
});

t.test('computeBackoffView: measured from the last exit; ignores running containers', async (t) => {
  const pod = makePod({ containers: [{ name: 'a', image: 'i:1' }, { name: 'b', image: 'i:1' }, { name: 'c', image: 'i:1' }] });
  const backoff = new KeyedBackoff({ initialMs: 10_000, maxMs: 300_000, now: () => 0 });
  const hashOf = (n: string) => `h-${n}`;
  backoff.next(crashLoopKey(UID, 'a', 'h-a'), 0);
  backoff.next(crashLoopKey(UID, 'b', 'h-b'), 0);
  backoff.next(crashLoopKey(UID, 'c', 'h-c'), 0);
  const seen = observed([sandbox(pod)], [
    exited(pod, 'a', 1, { finishedAtMs: 5000 }),
    exited(pod, 'b', 1, { finishedAtMs: 500 }),
    container(pod, 'c'),
  ]);
  const view = computeBackoffView({ backoff, podUid: UID, spec: pod.spec, seen, hashOf, now: 12_000 });
  t.same([...view], [['a', 15_000]], 'b is past its 10 s, c runs');
  const changed = computeBackoffView({ backoff, podUid: UID, spec: pod.spec, seen, hashOf: (n) => `new-${n}`, now: 12_000 });
  t.equal(changed.size, 0, 'a changed spec has its own key');
});

t.test('nextRestartCount', async (t) => {
  const pod = makePod();
  t.equal(nextRestartCount(observed([], []), 'app'), 0);
  t.equal(nextRestartCount(observed([], [exited(pod, 'app', 1, { restartCount: 4 })]), 'app'), 5);
});
