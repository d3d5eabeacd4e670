import t from 'tap';
import { parseTolerationFlags } from '../../../cli/server.ts';
import { DEFAULT_CONTROL_PLANE_CONFIG, parseControlPlaneArgs } from '../../../controlplane/controllers/config.ts';

t.test('--default-*-toleration-seconds: kube-apiserver\'s names and defaults', async (t) => {
  const cases: [string, Record<string, string>, { notReadyTolerationSeconds: number; unreachableTolerationSeconds: number }][] = [
    ['unset: 300 s each', {}, { notReadyTolerationSeconds: 300, unreachableTolerationSeconds: 300 }],
    ['both set', { 'default-not-ready-toleration-seconds': '5', 'default-unreachable-toleration-seconds': '10' }, { notReadyTolerationSeconds: 5, unreachableTolerationSeconds: 10 }],
    ['zero: evict at once', { 'default-unreachable-toleration-seconds': '0' }, { notReadyTolerationSeconds: 300, unreachableTolerationSeconds: 0 }],
  ];
  for (const [name, flags, want] of cases) t.same(parseTolerationFlags(new Map(Object.entries(flags))), want, name);
  for (const bad of ['-1', '5s', '1.5', '']) {
    t.throws(() => parseTolerationFlags(new Map([['default-unreachable-toleration-seconds', bad]])),
      { message: `parse --default-unreachable-toleration-seconds: want a whole number of seconds (0 or more), got ${JSON.stringify(bad)}` }, `rejects ${JSON.stringify(bad)}`);
  }
});

t.test('--node-monitor-grace-period: kube-controller-manager\'s name, 40 s by default', async (t) => {
  t.equal(DEFAULT_CONTROL_PLANE_CONFIG.nodeMonitorGracePeriodMs, 40_000, 'default 40s');
  t.equal(parseControlPlaneArgs(['--node-monitor-grace-period', '10s']).config.nodeMonitorGracePeriodMs, 10_000, '10s');
  t.equal(parseControlPlaneArgs(['--node-monitor-grace-period=1m']).config.nodeMonitorGracePeriodMs, 60_000, '1m');
});
