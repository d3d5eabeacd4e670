import t from 'tap';
import { diffSnapshots, EMPTY_SNAPSHOT, Pleg, type RuntimeSnapshot } from '../../../agent/pleg.ts';
import { createFakeCri } from '../../../agent/cri/fake.ts';
import { GrpcCode } from '../../../agent/cri/errors.ts';
import { silentLogger } from '../../../common/log.ts';

function snap(containers: Record<string, Record<string, string>>, sandboxes: Record<string, Record<string, string>> = {}): RuntimeSnapshot {
  const m = (o: Record<string, Record<string, string>>) => new Map(Object.entries(o).map(([uid, ids]) => [uid, new Map(Object.entries(ids))]));
  return { containers: m(containers), sandboxes: m(sandboxes) } as RuntimeSnapshot;
}

t.test('diffSnapshots', async (t) => {
  const cases: { name: string; prev: RuntimeSnapshot; next: RuntimeSnapshot; want: string[] }[] = [
    { name: 'nothing changed', prev: snap({ p: { c1: 'running' } }), next: snap({ p: { c1: 'running' } }), want: [] },
    { name: 'started', prev: snap({}), next: snap({ p: { c1: 'running' } }), want: ['p ContainerStarted c1'] },
    { name: 'created', prev: snap({}), next: snap({ p: { c1: 'created' } }), want: ['p ContainerChanged c1'] },
    { name: 'died', prev: snap({ p: { c1: 'running' } }), next: snap({ p: { c1: 'exited' } }), want: ['p ContainerDied c1'] },
    { name: 'removed', prev: snap({ p: { c1: 'exited' } }), next: snap({}), want: ['p ContainerRemoved c1'] },
    { name: 'sandbox', prev: snap({}, { p: { s1: 'ready' } }), next: snap({}, { p: { s1: 'notready' } }), want: ['p SandboxChanged s1'] },
    { name: 'two pods', prev: EMPTY_SNAPSHOT, next: snap({ a: { c1: 'running' }, b: { c2: 'exited' } }), want: ['a ContainerStarted c1', 'b ContainerDied c2'] },
  ];
  for (const c of cases) t.same(diffSnapshots(c.prev, c.next).map((e) => `${e.podUid} ${e.type} ${e.id}`), c.want, c.name);
});

t.test('a failed relist keeps the previous snapshot and reports nothing', async (t) => {
  const cri = createFakeCri({ images: ['img:1'] });
  const sb = await cri.runPodSandbox({ metadata: { name: 'p', namespace: 'default', uid: 'u1', attempt: 0 }, labels: { 'io.kubernetes.pod.uid': 'u1' } });
  const relists: number[] = [];
  const pleg = new Pleg({ cri, log: silentLogger(), relistPeriodMs: 1000, onRelist: (events) => relists.push(events.length) });
  await pleg.relist();
  t.same(relists, [1]);
  t.equal(pleg.snapshot.sandboxes.get('u1')?.get(sb), 'ready');
  cri.failNext('listPodSandboxStates', { grpcCode: GrpcCode.UNAVAILABLE, details: 'connect: no such file' });
  await pleg.relist();
  t.same(relists, [1], 'no events from a failed relist');
  t.equal(pleg.snapshot.sandboxes.get('u1')?.get(sb), 'ready', 'previous snapshot kept');
  await pleg.relist();
  t.same(relists, [1, 0]);
});
