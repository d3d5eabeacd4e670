import t from 'tap';
import { formatSelector, isEmptySelector, matchesMap, matchesSelector } from '../../../../controlplane/client/labels.ts';
import type { LabelSelector } from '../../../../controlplane/client/types.ts';

t.test('matchesSelector: matchLabels and every expression operator', async (t) => {
  const labels = { app: 'web', tier: 'front' };
  const cases: [string, LabelSelector | undefined, boolean][] = [
    ['nil selects nothing', undefined, false],
    ['{} selects everything', {}, true],
    ['equal labels', { matchLabels: { app: 'web' } }, true],
    ['different value', { matchLabels: { app: 'db' } }, false],
    ['missing label', { matchLabels: { zone: 'a' } }, false],
    ['In', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, true],
    ['In without the key', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }, false],
    ['NotIn', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['back'] }] }, true],
    ['NotIn without the key', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    ['NotIn hit', { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, false],
    ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, true],
    ['DoesNotExist', { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    ['labels and expressions together', { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'canary', operator: 'DoesNotExist' }] }, true],
  ];
  for (const [name, sel, want] of cases) t.equal(matchesSelector(sel, labels), want, name);
  t.ok(isEmptySelector({}));
  t.notOk(isEmptySelector({ matchLabels: { a: 'b' } }));
});

t.test('map selectors (services): all pairs, and an empty map selects nothing', async (t) => {
  t.ok(matchesMap({ app: 'web' }, { app: 'web', x: 'y' }));
  t.notOk(matchesMap({ app: 'web', tier: 'db' }, { app: 'web' }));
  t.notOk(matchesMap({}, { app: 'web' }));
  t.notOk(matchesMap(undefined, { app: 'web' }));
});

t.test('formatSelector gives the query form', async (t) => {
  t.equal(formatSelector({ matchLabels: { b: '2', a: '1' } }), 'a=1,b=2');
  t.equal(formatSelector({ matchExpressions: [{ key: 't', operator: 'In', values: ['y', 'x'] }, { key: 'c', operator: 'DoesNotExist' }, { key: 'e', operator: 'Exists' }, { key: 'n', operator: 'NotIn', values: ['z'] }] }), 't in (x,y),!c,e,n notin (z)');
});
