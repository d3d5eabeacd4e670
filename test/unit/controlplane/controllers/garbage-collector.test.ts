import t from 'tap';
import type { KubeObject } from '../../../../controlplane/client/types.ts';
import { planDependent, type OwnerState } from '../../../../controlplane/controllers/garbage-collector.ts';

const obj = (owners: string[], finalizers?: string[]): KubeObject => ({ metadata: { name: 'x', ownerReferences: owners.map((uid) => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: uid, uid })), ...(finalizers === undefined ? {} : { finalizers }) } });

t.test('what to do with a dependent, by the state of its owners', async (t) => {
  const cases: [string, KubeObject, Record<string, OwnerState>, boolean, unknown][] = [
    ['no owners', obj([]), {}, false, { kind: 'none' }],
    ['owner there', obj(['a']), { a: 'solid' }, false, { kind: 'none' }],
    ['owner gone', obj(['a']), { a: 'dangling' }, false, { kind: 'delete', policy: 'Background' }],
    ['one of two gone', obj(['a', 'b']), { a: 'solid', b: 'dangling' }, false, { kind: 'removeRefs', uids: ['b'] }],
    ['owner waits, I have dependents', obj(['a']), { a: 'waitingForDependentsDeletion' }, true, { kind: 'delete', policy: 'Foreground' }],
    ['owner waits, no dependents', obj(['a']), { a: 'waitingForDependentsDeletion' }, false, { kind: 'delete', policy: 'Background' }],
    ['owner waits but another owner stays', obj(['a', 'b']), { a: 'waitingForDependentsDeletion', b: 'solid' }, false, { kind: 'removeRefs', uids: ['a'] }],
    ['gone, orphan finalizer', obj(['a'], ['orphan']), { a: 'dangling' }, false, { kind: 'delete', policy: 'Orphan' }],
    ['gone, foreground finalizer', obj(['a'], ['foregroundDeletion']), { a: 'dangling' }, false, { kind: 'delete', policy: 'Foreground' }],
  ];
  for (const [name, o, states, hasDeps, want] of cases) t.same(planDependent(o, new Map(Object.entries(states)), hasDeps), want, name);
});
