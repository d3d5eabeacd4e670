import t from 'tap';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector, formatLabelSelector, labelSelectorFromObject } from '../../../../controlplane/apiserver/selectors.ts';
import { ApiError } from '../../../../controlplane/apiserver/errors.ts';

t.test('label selectors', async (t) => {
  const labels = { app: 'web', tier: 'front', 'example.com/team': 'a' };
  const cases: [string, boolean][] = [
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app=db', false],
    ['app=web,tier=front', true],
    ['app=web,tier=back', false],
    ['tier in (front, back)', true],
    ['tier notin (front)', false],
    ['missing notin (x)', true],
    ['app', true],
    ['!app', false],
    ['!missing', true],
    ['example.com/team=a', true],
    ['app in (web,db),!canary', true],
  ];
  for (const [sel, want] of cases) t.equal(matchesLabels(parseLabelSelector(sel), labels), want, JSON.stringify(sel));
  t.equal(matchesLabels(parseLabelSelector('app'), undefined), false, 'no labels');
  for (const bad of ['a b c', 'app=in valid', '-bad=x']) {
    t.throws(() => parseLabelSelector(bad), ApiError, `rejects ${bad}`);
  }
});

t.test('LabelSelector objects', async (t) => {
  const sel = labelSelectorFromObject({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }, { key: 'x', operator: 'DoesNotExist' }] });
  t.equal(formatLabelSelector(sel!), 'app=web,tier in (a,b),!x');
  t.ok(matchesLabels(sel!, { app: 'web', tier: 'a' }));
  t.notOk(matchesLabels(sel!, { app: 'web', tier: 'a', x: '1' }));
  t.equal(labelSelectorFromObject({ matchExpressions: [{ key: 'a', operator: 'Bogus' }] }), undefined);
});

t.test('field selectors', async (t) => {
  const fields = { 'metadata.name': 'p', 'metadata.namespace': 'default', 'spec.nodeName': 'n1', 'status.phase': 'Running' };
  const supported = ['spec.nodeName', 'status.phase'];
  const cases: [string, boolean][] = [
    ['metadata.name=p', true],
    ['metadata.name==q', false],
    ['spec.nodeName=n1,status.phase!=Failed,status.phase!=Succeeded', true],
    ['status.phase!=Running', false],
    ['spec.nodeName=', false],
  ];
  for (const [sel, want] of cases) t.equal(matchesFields(parseFieldSelector(sel, supported), fields), want, sel);
  t.throws(() => parseFieldSelector('spec.foo=x', supported), { message: 'field label not supported: spec.foo' });
});
