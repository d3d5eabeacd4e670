// NodeInfo bookkeeping: the sums follow pods added and removed, and the unboxed `hot` copy the
// filter and score loops read always equals them.
import t from 'tap';
import {
  addPodToNode, buildNodeInfo, buildPodFacts, removePodFromNode,
  HOT_ALLOC_MEMORY, HOT_ALLOC_MILLI_CPU, HOT_ALLOC_PODS, HOT_NONZERO_MEMORY, HOT_NONZERO_MILLI_CPU, HOT_POD_COUNT, HOT_REQ_MEMORY, HOT_REQ_MILLI_CPU,
  type NodeInfo,
} from '../../../../controlplane/scheduler/node-info.ts';
import { node, pod } from './fixtures.ts';

function hotView(info: NodeInfo): number[] {
  return [HOT_ALLOC_MILLI_CPU, HOT_ALLOC_MEMORY, HOT_ALLOC_PODS, HOT_REQ_MILLI_CPU, HOT_REQ_MEMORY, HOT_NONZERO_MILLI_CPU, HOT_NONZERO_MEMORY, HOT_POD_COUNT].map((i) => info.hot[i]);
}

function fieldView(info: NodeInfo): number[] {
  return [info.allocatable.milliCpu, info.allocatable.memory, info.allocatable.pods, info.requested.milliCpu, info.requested.memory,
    info.nonZeroRequested.milliCpu, info.nonZeroRequested.memory, info.podCount];
}

t.test('sums and their hot copy follow pods added and removed', async (t) => {
  const info = buildNodeInfo(node('n1', { cpu: '4', memory: '8Gi', pods: 10 }), [buildPodFacts(pod('a', { cpu: '500m', memory: '1Gi', nodeName: 'n1' }))]);
  t.same(hotView(info), fieldView(info), 'built');
  t.same(fieldView(info), [4000, 8 * 2 ** 30, 10, 500, 2 ** 30, 500, 2 ** 30, 1]);
  addPodToNode(info, buildPodFacts(pod('b', { nodeName: 'n1' })));
  t.same(hotView(info), fieldView(info), 'after an add');
  t.same(fieldView(info).slice(3), [500, 2 ** 30, 600, 2 ** 30 + 200 * 2 ** 20, 2], 'a pod asking nothing counts 100m/200Mi for scoring only');
  addPodToNode(info, buildPodFacts(pod('b', { cpu: '1', nodeName: 'n1' })));
  t.same(fieldView(info).slice(3), [1500, 2 ** 30, 1500, 2 ** 30 + 200 * 2 ** 20, 2], 'adding a known pod replaces it');
  removePodFromNode(info, 'default/a');
  removePodFromNode(info, 'default/b');
  t.same(hotView(info), fieldView(info), 'after removals');
  t.same(fieldView(info).slice(3), [0, 0, 0, 0, 0]);
  t.equal(removePodFromNode(info, 'default/none'), undefined, 'removing an unknown pod changes nothing');
  t.same(hotView(info), fieldView(info));
});
