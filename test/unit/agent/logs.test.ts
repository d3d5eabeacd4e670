import t from 'tap';
import { mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { LogAssembler, parseCriLogLine, readTail, streamContainerLog } from '../../../agent/logs.ts';

const T = (i: number) => `2026-11-23T14:21:${String(i).padStart(2, '0')}.000000001Z`;

t.test('parseCriLogLine', async (t) => {
  t.same(parseCriLogLine(`${T(1)} stdout F hello world`), { time: T(1), stream: 'stdout', partial: false, text: 'hello world' });
  t.same(parseCriLogLine(`${T(1)} stderr P part`), { time: T(1), stream: 'stderr', partial: true, text: 'part' });
  t.same(parseCriLogLine(`${T(1)} stdout F`), { time: T(1), stream: 'stdout', partial: false, text: '' });
  t.equal(parseCriLogLine('garbage'), undefined);
  t.equal(parseCriLogLine(`${T(1)} other F x`), undefined);
});

t.test('partial chunks are joined per stream; timestamps on request', async (t) => {
  const a = new LogAssembler({ timestamps: false });
  t.same(a.push(`${T(1)} stdout P abc`), []);
  t.same(a.push(`${T(2)} stderr F err`), ['err\n']);
  t.same(a.push(`${T(3)} stdout F def`), ['abcdef\n']);
  const b = new LogAssembler({ timestamps: true });
  t.same(b.push(`${T(4)} stdout F x`), [`${T(4)} x\n`]);
});

t.test('readTail and streamContainerLog', async (t) => {
  const dir = await mkdtemp(`${tmpdir()}/moor-logs-`);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = `${dir}/0.log`;
  const lines = Array.from({ length: 5000 }, (_, i) => `${T(i % 60)} stdout F line ${i}`);
  lines.splice(4998, 0, `${T(0)} stdout P head-of-`);
  await writeFile(path, lines.join('\n') + '\n');
  const tail = await readTail(path, 2);
  t.same(tail.lines.map((l) => l.split(' ').slice(3).join(' ')), ['head-of-', 'line 4998', 'line 4999'], 'the partial chunk belongs to the line after it');
  t.same((await readTail(path, 0)).lines, []);
  t.equal((await readTail(path, undefined)).lines.length, 5001);
  const out: string[] = [];
  await streamContainerLog({ path, tailLines: 3, timestamps: false, follow: false, write: (c) => void out.push(c) });
  t.same(out, ['line 4997\n', 'head-of-line 4998\n', 'line 4999\n']);

  const followed: string[] = [];
  let running = true;
  const done = streamContainerLog({ path, tailLines: 1, timestamps: false, follow: true, pollMs: 10, isRunning: () => running, write: (c) => void followed.push(c) });
  await appendFile(path, `${T(1)} stdout F later\n${T(1)} stdout P no-newline-yet`);
  await new Promise((r) => setTimeout(r, 100));
  t.same(followed, ['line 4999\n', 'later\n']);
  await appendFile(path, `\n${T(2)} stdout F end\n`);
  await new Promise((r) => setTimeout(r, 100));
  running = false;
  await done;
  t.same(followed, ['line 4999\n', 'later\n', 'no-newline-yetend\n']);
});
