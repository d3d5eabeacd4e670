// The plugin's log lines are pino's format: level numbers, time, pid, hostname, name, bindings, msg.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCniLogger, memoryCniLogger } from '../../../cni/log.ts';

t.test('pino-compatible lines, levels and child bindings', async (t) => {
  const { log, lines } = memoryCniLogger('info');
  const child = log.child({ cmd: 'ADD', containerId: 'c1' });
  child.debug({ x: 1 }, 'hidden');
  child.info({ ips: ['10.0.0.5/24'] }, 'add plan');
  child.error({ err: new Error('boom') }, 'failed');
  const got = lines();
  t.equal(got.length, 2, 'debug is below info');
  t.match(got[0], { level: 30, name: 'moor-bridge', pid: process.pid, cmd: 'ADD', containerId: 'c1', ips: ['10.0.0.5/24'], msg: 'add plan' });
  t.type(got[0]!.time, 'number');
  t.type(got[0]!.hostname, 'string');
  t.match(got[1], { level: 50, err: { type: 'Error', message: 'boom' } });
});

t.test('file sink creates its directory; an unwritable file never throws', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mbt-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'sub', 'moor-bridge.log');
  createCniLogger({ file, level: 'info' }).info({ a: 1 }, 'hello');
  t.match(JSON.parse(readFileSync(file, 'utf8')), { msg: 'hello', a: 1 });
  const bad = createCniLogger({ file: join(dir, 'sub', 'moor-bridge.log', 'not-a-dir', 'x.log'), level: 'info' });
  const write = process.stderr.write;
  let said = '';
  process.stderr.write = ((s: string) => ((said += s), true)) as typeof process.stderr.write;
  try {
    bad.info({}, 'one');
    bad.info({}, 'two');
  } finally {
    process.stderr.write = write;
  }
  t.match(said, /open log file/, 'reported once on stderr');
  t.equal(said.split('\n').filter(Boolean).length, 1, 'only once');
});
