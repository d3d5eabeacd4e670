import t from 'tap';
import { moorCliEntry } from '../../../../controlplane/controllers/manager.ts';
import { CONTROL_PLANE_OFF, controlPlaneConfigFromEnv, DEFAULT_CONTROL_PLANE_CONFIG, parseControlPlaneArgs, parseControllerList, parseDuration, resolveControlPlaneArgs } from '../../../../controlplane/controllers/config.ts';

t.test('durations', async (t) => {
  const cases: [string, number][] = [['40s', 40_000], ['1m30s', 90_000], ['500ms', 500], ['2h', 7_200_000], ['0', 0], ['1.5s', 1500]];
  for (const [text, ms] of cases) t.equal(parseDuration(text, 'x'), ms, text);
  for (const bad of ['40', 's', '1m x', '-1s']) t.throws(() => parseDuration(bad, 'node-monitor-period'), { code: 'config-invalid', message: /^parse --node-monitor-period: want a duration/ }, bad);
});

t.test('controller lists as kube-controller-manager takes them', async (t) => {
  t.same(parseControllerList('*'), [...DEFAULT_CONTROL_PLANE_CONFIG.controllers]);
  t.same(parseControllerList('*,-nodeipam,-podgc'), ['replicaset', 'deployment', 'endpoints', 'nodelifecycle', 'garbagecollector']);
  t.same(parseControllerList('deployment,replicaset'), ['replicaset', 'deployment']);
  t.throws(() => parseControllerList('*,-bogus'), { message: 'parse --controllers: unknown controller "bogus", known: replicaset, deployment, endpoints, nodelifecycle, nodeipam, garbagecollector, podgc' });
});

t.test('our flags are taken out, the rest is left in order', async (t) => {
  const { config, rest } = parseControlPlaneArgs(['--data-dir', '/x', '--node-monitor-grace-period=3s', '--disable-scheduler', '--cluster-cidr', '10.50.0.0/16', '--secure-port=0', '--node-cidr-mask-size=26']);
  t.same(rest, ['--data-dir', '/x', '--secure-port=0']);
  t.match(config, { scheduler: false, nodeMonitorGracePeriodMs: 3000, clusterCidr: '10.50.0.0/16', nodeCidrMaskSize: 26 });
  t.same(parseControlPlaneArgs(['--disable-controller-manager']).config.controllers, []);
  t.throws(() => parseControlPlaneArgs(['--cluster-cidr=10.0.0.0/24', '--node-cidr-mask-size=16']), { message: /larger than the cluster cidr/ });
  t.throws(() => parseControlPlaneArgs(['--enable-pod-eviction=maybe']), { message: 'parse --enable-pod-eviction: want true or false, got "maybe"' });
  t.throws(() => parseControlPlaneArgs(['--percentage-of-nodes-to-score=101']), { code: 'config-invalid' });
});

t.test('MOOR_CONTROLPLANE_ARGS: unset is off, empty is the defaults', async (t) => {
  t.same(controlPlaneConfigFromEnv({}), CONTROL_PLANE_OFF);
  t.same(controlPlaneConfigFromEnv({ MOOR_CONTROLPLANE_ARGS: '' }), DEFAULT_CONTROL_PLANE_CONFIG);
  t.equal(controlPlaneConfigFromEnv({ MOOR_CONTROLPLANE_ARGS: ' --node-monitor-period=1s  --terminated-pod-gc-threshold 5 ' }).terminatedPodGcThreshold, 5);
  t.throws(() => controlPlaneConfigFromEnv({ MOOR_CONTROLPLANE_ARGS: '--bogus' }), { message: 'parse MOOR_CONTROLPLANE_ARGS: unknown arguments --bogus' });
});

t.test('the worker thread runs only from the moor CLI entry', async (t) => {
  t.equal(moorCliEntry(['/usr/bin/node', '/opt/moor/dist/moor.mjs', 'server']), '/opt/moor/dist/moor.mjs');
  t.equal(moorCliEntry(['/usr/bin/node', '/work/main/cli/moor.ts', 'server']), '/work/main/cli/moor.ts');
  t.equal(moorCliEntry(['/usr/bin/node', '/work/main/test/x.test.ts']), undefined, 'embedded in a test: same thread');
  t.equal(parseControlPlaneArgs(['--controlplane-thread=main']).config.thread, 'main');
  t.throws(() => parseControlPlaneArgs(['--controlplane-thread=fiber']), { message: 'parse --controlplane-thread: want worker or main, got "fiber"' });
});

t.test('resolveControlPlaneArgs: on by default, environment first, argv wins', async (t) => {
  const none = resolveControlPlaneArgs(['--data-dir', '/x'], {});
  t.same(none.rest, ['--data-dir', '/x']);
  t.same(none.config, DEFAULT_CONTROL_PLANE_CONFIG);
  const both = resolveControlPlaneArgs(['--node-monitor-grace-period=10s'], { MOOR_CONTROLPLANE_ARGS: '--node-monitor-grace-period=3s --disable-scheduler' });
  t.match(both.config, { nodeMonitorGracePeriodMs: 10_000, scheduler: false });
  t.throws(() => resolveControlPlaneArgs([], { MOOR_CONTROLPLANE_ARGS: '--data-dir /x' }), { message: 'parse MOOR_CONTROLPLANE_ARGS: unknown arguments --data-dir /x' });
});
