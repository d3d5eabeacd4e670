import t from 'tap';
import { atLeast, isSupportedVersion } from '../../../cni/version.ts';

t.test('version comparison', async (t) => {
  const cases: [string, string, boolean][] = [
    ['1.1.0', '1.0.0', true], ['1.0.0', '1.0.0', true], ['0.4.0', '1.0.0', false], ['0.3.1', '0.4.0', false], ['0.10.0', '0.4.0', true],
  ];
  for (const [a, b, want] of cases) t.equal(atLeast(a, b), want, `${a} >= ${b}`);
  t.ok(isSupportedVersion('0.3.0'));
  t.notOk(isSupportedVersion('0.2.0'));
  t.notOk(isSupportedVersion('1.2.0'));
});
