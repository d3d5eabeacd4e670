// The relist's own decoder of ListPodSandbox / ListContainers responses, against responses encoded
// by the proto the client uses (as containerd would send them), compared with the full decode.
import t from 'tap';
import { loadCriDefinition } from '../../../../agent/cri/client.ts';
import { containerFromWire, podSandboxFromWire, type Wire } from '../../../../agent/cri/convert.ts';
import { decodeContainerStates, decodeSandboxStates } from '../../../../agent/cri/list-states.ts';

interface MethodDefinition {
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): Wire;
}
const definition = loadCriDefinition();
function rpc(method: string): MethodDefinition {
  return (definition['runtime.v1.RuntimeService'] as unknown as Record<string, MethodDefinition>)[method]!;
}

const UID = 'io.kubernetes.pod.uid';

function sandbox(id: string, state: string, labels: Record<string, string>): Wire {
  return {
    id, state, labels, runtimeHandler: 'runc', createdAt: '1795450233414044700',
    metadata: { name: `p-${id}`, namespace: 'default', uid: `u-${id}`, attempt: 3 },
    annotations: { 'kubernetes.io/config.source': 'file', note: 'x'.repeat(300) },
  };
}

function container(id: string, state: string, labels: Record<string, string>): Wire {
  return {
    id, state, labels, podSandboxId: `sb-${id}`, imageRef: 'sha256:abc', createdAt: '1795450233414044700',
    metadata: { name: 'main', attempt: 7 }, image: { image: '127.0.0.1:5000/moor/busybox:1.0', annotations: { a: 'b' } },
    annotations: { 'io.kubernetes.container.hash': 'ff00', 'io.kubernetes.container.preStopHandler': '{"exec":{"command":["sh"]}}' },
  };
}

t.test('sandboxes: id, state and the pod UID label, as the full decode reads them', async (t) => {
  const items = [
    sandbox('a1', 'SANDBOX_READY', { 'io.kubernetes.pod.name': 'p', [UID]: 'uid-1', 'io.kubernetes.pod.namespace': 'default' }),
    sandbox('b2', 'SANDBOX_NOTREADY', { zz: 'last', [UID]: 'uid-2' }),
    sandbox('c3', 'SANDBOX_READY', { 'made-by': 'crictl' }), // not a pod's
    sandbox('d4', 'SANDBOX_READY', {}),
  ];
  const m = rpc('ListPodSandbox');
  const bytes = m.responseSerialize({ items });
  const lean = decodeSandboxStates(bytes, UID);
  t.same(lean, [
    { id: 'a1', state: 'ready', label: 'uid-1' },
    { id: 'b2', state: 'notready', label: 'uid-2' },
    { id: 'c3', state: 'ready' },
    { id: 'd4', state: 'ready' },
  ]);
  const full = (m.responseDeserialize(bytes).items as Wire[]).map((w) => podSandboxFromWire(w));
  t.same(lean.map((x) => [x.id, x.state, x.label]), full.map((x) => [x.id, x.state, x.labels[UID]]), 'same as the full decode');
  t.same(decodeSandboxStates(m.responseSerialize({ items: [] }), UID), [], 'an empty list');
});

t.test('containers: every state, labels anywhere among the others', async (t) => {
  const states = ['CONTAINER_CREATED', 'CONTAINER_RUNNING', 'CONTAINER_EXITED', 'CONTAINER_UNKNOWN'];
  const items = states.map((s, i) => container(`c${i}`, s, { 'io.kubernetes.container.name': 'main', [UID]: `uid-${i}`, 'io.kubernetes.pod.name': 'p' }));
  items.push(container('plain', 'CONTAINER_RUNNING', { other: 'x' }));
  const m = rpc('ListContainers');
  const bytes = m.responseSerialize({ containers: items });
  const lean = decodeContainerStates(bytes, UID);
  t.same(lean.map((x) => x.state), ['created', 'running', 'exited', 'unknown', 'running']);
  t.same(lean.map((x) => x.label), ['uid-0', 'uid-1', 'uid-2', 'uid-3', undefined]);
  const full = (m.responseDeserialize(bytes).containers as Wire[]).map((w) => containerFromWire(w));
  t.same(lean.map((x) => [x.id, x.state, x.label]), full.map((x) => [x.id, x.state, x.labels[UID]]), 'same as the full decode');
});

t.test('a label whose key only starts like the one asked for does not match; an empty value does', async (t) => {
  const bytes = rpc('ListPodSandbox').responseSerialize({ items: [sandbox('a', 'SANDBOX_READY', { [`${UID}x`]: 'no', io: 'no' }), sandbox('b', 'SANDBOX_READY', { [UID]: '' })] });
  t.same(decodeSandboxStates(bytes, UID), [{ id: 'a', state: 'ready' }, { id: 'b', state: 'ready', label: '' }]);
});

t.test('fields it does not know (a newer runtime) are skipped, whatever their wire type', async (t) => {
  const item = rpc('ListPodSandbox').responseSerialize({ items: [sandbox('a', 'SANDBOX_NOTREADY', { [UID]: 'u' })] }).subarray(0);
  // Inner message bytes: strip the outer tag and length, then append unknown fields of every wire type.
  const inner = item.subarray(2 + (item[1]! >= 0x80 ? 1 : 0));
  const extra = Buffer.from([
    (10 << 3) | 0, 0x96, 0x01, // varint 150
    (11 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8, // fixed64
    (12 << 3) | 2, 3, 0x61, 0x62, 0x63, // bytes "abc"
    (13 << 3) | 5, 1, 2, 3, 4, // fixed32
    0xa0, 0x01, 0x05, // field 20 (a two-byte tag), varint 5
  ]);
  const body = Buffer.concat([inner, extra]);
  const len = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([(body.length & 0x7f) | 0x80, body.length >> 7]);
  const response = Buffer.concat([Buffer.from([(1 << 3) | 2]), len, body, Buffer.from([(9 << 3) | 0, 1])]);
  t.same(decodeSandboxStates(response, UID), [{ id: 'a', state: 'notready', label: 'u' }]);
});

t.test('a truncated response is an error, not a short list', async (t) => {
  const bytes = rpc('ListContainers').responseSerialize({ containers: [container('c', 'CONTAINER_RUNNING', { [UID]: 'u' })] });
  t.throws(() => decodeContainerStates(bytes.subarray(0, bytes.length - 5), UID), { name: 'WireFormatError' });
  t.throws(() => decodeContainerStates(Buffer.from([(1 << 3) | 2, 0x80]), UID), { name: 'WireFormatError' }, 'truncated length');
  t.throws(() => decodeContainerStates(Buffer.from([(1 << 3) | 3]), UID), { name: 'WireFormatError' }, 'group wire type');
});
