import t from 'tap';
import { buildConfig, ConfigError, DEFAULTS, parseArgs, parseDuration } from '../../../agent/config.ts';

const build = (flags: Record<string, string>, file?: unknown) => buildConfig({ flags: new Map(Object.entries(flags)), ...(file !== undefined ? { file, fileName: 'c.yaml' } : {}), defaultNodeName: 'Host1' });

t.test('parseDuration', async (t) => {
  const cases: [string, number | undefined][] = [['500ms', 500], ['10s', 10_000], ['5m', 300_000], ['1h', 3_600_000], ['1m30s', 90_000], ['1.5s', 1500], ['10', undefined], ['s', undefined], ['10x', undefined], ['', undefined]];
  for (const [text, want] of cases) t.equal(parseDuration(text), want, text);
});

t.test('defaults, the node name from the host name, lower-cased', async (t) => {
  const c = build({});
  t.equal(c.nodeName, 'host1');
  t.equal(c.containerRuntimeEndpoint, DEFAULTS.containerRuntimeEndpoint);
  t.equal(c.maxPods, 110);
  t.same(c.crashLoopBackOff, { initialMs: 10_000, maxMs: 300_000 });
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.crashLoopBackOff));
});

t.test('kubelet flag names; flags win over the config file', async (t) => {
  const args = parseArgs(['--container-runtime-endpoint=unix:///run/x.sock', '--pod-manifest-path', '/etc/m', '--max-pods=5', '--crash-loop-backoff-initial=1s', '--config', '/c.yaml']);
  t.equal(args.configFile, '/c.yaml');
  const c = buildConfig({
    flags: args.values,
    file: { kind: 'KubeletConfiguration', staticPodPath: '/from/file', maxPods: 7, port: 10255, crashLoopBackOff: { max: '4s' }, hostnameOverride: 'node-a' },
    fileName: '/c.yaml',
  });
  t.equal(c.containerRuntimeEndpoint, 'unix:///run/x.sock');
  t.equal(c.podManifestPath, '/etc/m', 'flag wins');
  t.equal(c.maxPods, 5, 'flag wins');
  t.equal(c.port, 10255, 'from the file');
  t.same(c.crashLoopBackOff, { initialMs: 1000, maxMs: 4000 });
  t.equal(c.nodeName, 'node-a');
});

t.test('invalid flags and settings are refused with the flag and value named', async (t) => {
  const cases: [() => unknown, RegExp][] = [
    [() => parseArgs(['--nope=1']), /^unknown flag --nope$/],
    [() => parseArgs(['--port']), /^flag --port needs a value$/],
    [() => parseArgs(['stray']), /^unexpected argument "stray"$/],
    [() => build({ port: '70000' }), /^flag --port: invalid value "70000": must be a port number/],
    [() => build({ 'max-pods': '0' }), /^flag --max-pods: invalid value "0": must be at least 1/],
    [() => build({ 'max-pods': 'ten' }), /^flag --max-pods: invalid value "ten": must be a non-negative integer/],
    [() => build({ 'root-dir': 'relative' }), /^flag --root-dir: invalid value "relative": must be an absolute path/],
    [() => build({ 'root-dir': '/' }), /must be a directory of its own/],
    [() => build({ 'node-ip': '10.0.0.300' }), /^flag --node-ip: invalid value "10.0.0.300": must be an IP address/],
    [() => build({ 'pod-network-routes': 'vxlan' }), /^flag --pod-network-routes: invalid value "vxlan": must be host-gw or none/],
    [() => build({ 'non-masquerade-cidr': '10.244.0.0' }), /^flag --non-masquerade-cidr: invalid value "10.244.0.0": must be an IPv4 CIDR/],
    [() => build({ 'non-masquerade-cidr': '10.244.0.0/33' }), /^flag --non-masquerade-cidr: invalid value "10.244.0.0\/33": must be an IPv4 CIDR/],
    [() => build({ 'container-runtime-endpoint': 'tcp://x:1' }), /must be a unix socket endpoint/],
    [() => build({ 'sync-frequency': '10' }), /must be a duration/],
    [() => build({ 'hostname-override': 'Bad_Name' }), /must be a lowercase RFC 1123 name/],
    [() => build({ 'crash-loop-backoff-initial': '10m' }), /crashLoopBackOff: maximum 300000 ms is below the initial 600000 ms/],
    [() => build({}, { maxPodz: 3 }), /^read config c\.yaml: unknown setting "maxPodz"/],
    [() => build({}, ['x']), /must be a mapping of settings/],
    [() => build({ 'log-level': 'loud' }), /must be one of trace, debug/],
  ];
  for (const [fn, want] of cases) {
    try {
      fn();
      t.fail(`accepted: ${want}`);
    } catch (err) {
      t.ok(err instanceof ConfigError, String(want));
      t.match((err as Error).message, want);
    }
  }
});
