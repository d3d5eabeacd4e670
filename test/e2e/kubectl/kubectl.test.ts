// kubectl on PATH (1.32 on these machines) against `moor server`; scenarios in suite.ts.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { runKubectlSuite } from './suite.ts';

const version = spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' });
const minor = version.status === 0 ? Number.parseInt(JSON.parse(version.stdout).clientVersion.minor, 10) : 0;

t.test('kubectl on PATH against moor server', { skip: version.status === 0 ? undefined : 'needs kubectl on PATH' }, async (t) => {
  await runKubectlSuite(t, { bin: 'kubectl', minor });
});
