import t from 'tap';
import { buildContainerEnv, expandCommand, expandReferences } from '../../../../agent/pod/env.ts';
import { makePod } from '../../../fixtures/agent/pods.ts';

t.test('expandReferences', async (t) => {
  const vars = new Map([['A', 'x'], ['B', '$(A)']]);
  const cases: [string, string][] = [
    ['$(A)', 'x'], ['pre-$(A)-post', 'pre-x-post'], ['$(C)', '$(C)'], ['$$(A)', '$(A)'], ['$$', '$'], ['$A', '$A'], ['$(A', '$(A'], ['a$', 'a$'], ['$(B)', '$(A)'],
  ];
  for (const [input, want] of cases) t.equal(expandReferences(input, (n) => vars.get(n)), want, input);
});

t.test('env with fieldRef, resourceFieldRef and references', async (t) => {
  const pod = makePod({
    serviceAccountName: 'sa',
    containers: [{
      name: 'app', image: 'i:1',
      resources: { limits: { memory: '64Mi' }, requests: { cpu: '250m' } },
      env: [
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'HOST_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
        { name: 'TIER', valueFrom: { fieldRef: { fieldPath: "metadata.labels['tier']" } } },
        { name: 'SA', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
        { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
        { name: 'CPU_REQ_M', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
        { name: 'URL', value: 'http://$(POD_IP):80/$(MISSING)' },
      ],
      command: ['sh', '-c', 'echo $(POD_NAME) $$(POD_NAME)'],
    }],
  }, { labels: { tier: 'front' } });
  const env = buildContainerEnv(pod.spec.containers[0], { pod, nodeName: 'node1', hostIp: '192.0.2.1', podIp: '10.1.0.7', nodeCpuMilli: 2000, nodeMemoryBytes: 2 ** 30 });
  t.same(Object.fromEntries(env.map((e) => [e.key, e.value])), {
    POD_NAME: 'web', POD_NS: 'default', POD_IP: '10.1.0.7', NODE: 'node1', HOST_IP: '192.0.2.1', TIER: 'front', SA: 'sa',
    MEM: '64', CPU: '2', CPU_REQ_M: '250', URL: 'http://10.1.0.7:80/$(MISSING)',
  });
  t.same(expandCommand(pod.spec.containers[0], env).command, ['sh', '-c', 'echo web $(POD_NAME)']);
});
