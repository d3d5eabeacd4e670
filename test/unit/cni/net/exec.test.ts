// Running subprocesses: both the process_wrap fast path and the child_process fallback give the
// same results (exit status, stdout, stderr, stdin, timeouts, missing commands).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runCommand } from '../../../../cni/net/exec.ts';
import { silentCniLogger } from '../../../../cni/log.ts';

const log = silentCniLogger();

t.test('fast path', async (t) => {
  const r = await runCommand(['sh', '-c', 'cat; echo err >&2; exit 3'], { input: 'hello\n', timeoutMs: 5000, log });
  t.same([r.exitCode, r.stdout, r.stderr], [3, 'hello\n', 'err\n']);
  const big = await runCommand(['sh', '-c', 'head -c 300000 /dev/zero | tr "\\0" x'], { timeoutMs: 5000, log });
  t.equal(big.stdout.length, 300000, 'large output');
  const extra = await runCommand(['sh', '-c', 'cat; cat /dev/fd/3'], { input: 'one\n', extraInput: 'two\n', timeoutMs: 5000, log });
  t.equal(extra.stdout, 'one\ntwo\n', 'a second input on fd 3');
  const env = await runCommand(['sh', '-c', 'echo $LC_ALL'], { timeoutMs: 5000, log });
  t.equal(env.stdout, 'C\n', 'children run with LC_ALL=C');
  await t.rejects(runCommand(['no-such-command-mbt'], { timeoutMs: 5000, log }), /not found/);
  await t.rejects(runCommand(['sleep', '5'], { timeoutMs: 100, log }), { code: 'command-timeout' });
});

t.test('child_process fallback gives the same answers', async (t) => {
  const script = `
    import { runCommand } from ${JSON.stringify(join(process.cwd(), 'cni/net/exec.ts'))};
    import { silentCniLogger } from ${JSON.stringify(join(process.cwd(), 'cni/log.ts'))};
    const r = await runCommand(['sh', '-c', 'cat; cat /dev/fd/3; echo err >&2; exit 3'], { input: 'hello', extraInput: ' again', timeoutMs: 5000, log: silentCniLogger() });
    let timedOut = false;
    try { await runCommand(['sleep', '5'], { timeoutMs: 100, log: silentCniLogger() }); } catch (e) { timedOut = e.code === 'command-timeout'; }
    process.stdout.write(JSON.stringify({ ...r, durationMs: 0, timedOut }));`;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, MOOR_CNI_EXEC: 'child_process' }, encoding: 'utf8' });
  t.same(JSON.parse(res.stdout), { exitCode: 3, stdout: 'hello again', stderr: 'err\n', durationMs: 0, timedOut: true }, res.stderr);
});
