import t from 'tap';
import { computeAllocatable, computeNonZeroRequests, computePodRequests, DEFAULT_MEMORY_REQUEST } from '../../../../controlplane/scheduler/resources.ts';
import type { Pod } from '../../../../controlplane/client/types.ts';
import { node } from './fixtures.ts';

const base = (): Pod => ({ metadata: { name: 'p' }, spec: { containers: [] } });

t.test('pod requests: sum of containers, at least the largest init container, plus overhead', async (t) => {
  const cases: [string, (p: Pod) => void, { milliCpu: number; memory: number; scalar?: Record<string, number> }][] = [
    ['nothing requested', () => {}, { milliCpu: 0, memory: 0 }],
    ['two containers add up', (p) => { p.spec.containers = [{ name: 'a', resources: { requests: { cpu: '250m', memory: '64Mi' } } }, { name: 'b', resources: { requests: { cpu: '0.5', memory: '64Mi' } } }]; }, { milliCpu: 750, memory: 128 * 2 ** 20 }],
    ['a limit alone counts as the request', (p) => { p.spec.containers = [{ name: 'a', resources: { limits: { cpu: '1' } } }]; }, { milliCpu: 1000, memory: 0 }],
    ['a big init container wins', (p) => { p.spec.containers = [{ name: 'a', resources: { requests: { cpu: '100m' } } }]; p.spec.initContainers = [{ name: 'i', resources: { requests: { cpu: '2' } } }]; }, { milliCpu: 2000, memory: 0 }],
    ['overhead is added', (p) => { p.spec.containers = [{ name: 'a', resources: { requests: { cpu: '100m' } } }]; p.spec.overhead = { cpu: '50m' }; }, { milliCpu: 150, memory: 0 }],
    ['extended resources by name', (p) => { p.spec.containers = [{ name: 'a', resources: { requests: { 'example.com/gpu': '2', 'ephemeral-storage': '1Gi' } } }]; }, { milliCpu: 0, memory: 0, scalar: { 'example.com/gpu': 2, 'ephemeral-storage': 2 ** 30 } }],
    ['a malformed quantity counts as zero', (p) => { p.spec.containers = [{ name: 'a', resources: { requests: { cpu: 'lots' } } }]; }, { milliCpu: 0, memory: 0 }],
  ];
  for (const [name, mutate, want] of cases) {
    const p = base();
    mutate(p);
    t.same(computePodRequests(p), { milliCpu: want.milliCpu, memory: want.memory, scalar: want.scalar ?? {} }, name);
  }
});

t.test('non-zero requests for scoring: 100m and 200Mi per container that asks for nothing', async (t) => {
  const p = base();
  p.spec.containers = [{ name: 'a' }, { name: 'b', resources: { requests: { cpu: '1' } } }];
  t.same(computeNonZeroRequests(p), { milliCpu: 1100, memory: 2 * DEFAULT_MEMORY_REQUEST });
});

t.test('allocatable: status.allocatable, else capacity; pods as a count', async (t) => {
  t.same(computeAllocatable(node('n', { cpu: '3500m', memory: '1Gi', pods: 20 })), { milliCpu: 3500, memory: 2 ** 30, scalar: {}, pods: 20 });
  const n = node('n');
  delete n.status!.allocatable;
  n.status!.capacity = { cpu: '1' };
  t.same(computeAllocatable(n), { milliCpu: 1000, memory: 0, scalar: {}, pods: 0 }, 'missing amounts are zero');
});
