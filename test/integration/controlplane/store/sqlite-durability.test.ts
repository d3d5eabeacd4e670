// An acknowledged write survives kill -9: a child process writes as fast as it can and prints an
// acknowledgement after each write resolves; we SIGKILL it mid-stream, reopen the file and find
// every acknowledged write, at its acknowledged revision, and a store that opens and writes at once.
// Once with one writer loop, once with 32 concurrent loops (group commit: many writes per
// transaction and fsync). Run as a child (MOOR_STORE_WRITER set), this file is the writer.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../../../common/wait.ts';
import { openSqliteStore } from '../../../../controlplane/store/sqlite.ts';

const writerPath = process.env.MOOR_STORE_WRITER;

interface Ack {
  readonly op: string;
  readonly key: string;
  readonly revision: number;
}

if (writerPath !== undefined) {
  // Child: loops that create, update and delete their own keys; "ack <op> <key> <revision>" after each resolves.
  const store = openSqliteStore({ path: writerPath });
  const value = Buffer.from(JSON.stringify({ pad: 'x'.repeat(3000) }));
  const loop = async (n: number): Promise<never> => {
    for (let i = 0; ; i++) {
      const key = `/durable/${n}/${i}`;
      const created = await store.create(key, value);
      process.stdout.write(`ack create ${key} ${created.modRevision}\n`);
      if (i % 3 === 1) {
        const updated = await store.update(key, Buffer.from(`updated ${i}`), created.modRevision);
        process.stdout.write(`ack update ${key} ${updated.modRevision}\n`);
      }
      if (i % 5 === 2) {
        const deleted = await store.delete(key);
        process.stdout.write(`ack delete ${key} ${deleted.modRevision}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: Number(process.env.MOOR_STORE_LOOPS ?? '1') }, (_, n) => loop(n)));
} else {
  /** Start the writer with `loops` loops and SIGKILL it after `count` acknowledgements. */
  async function writeThenKill(t: Test, loops: number, count: number): Promise<{ path: string; acks: Ack[] }> {
    const dir = mkdtempSync(join(tmpdir(), 'moor-durable-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'store.db');
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
      env: { ...process.env, MOOR_STORE_WRITER: path, MOOR_STORE_LOOPS: String(loops) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    t.teardown(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    const acks: Ack[] = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [word, op, key, revision] = line.split(' ');
      if (word === 'ack') acks.push({ op, key, revision: Number(revision) });
    });
    await waitFor(() => acks.length >= count, { timeoutMs: 20_000, intervalMs: 5, what: `${count} acknowledged writes` });
    child.kill('SIGKILL');
    t.equal(await exited, 'SIGKILL', 'the writer died of SIGKILL');
    return { path, acks };
  }

  t.test('acknowledged writes survive SIGKILL of the writer', async (t) => {
    const { path, acks } = await writeThenKill(t, 1, 300);
    const store = openSqliteStore({ path });
    t.teardown(() => store.close());
    const last = acks[acks.length - 1];
    const revision = await store.currentRevision();
    t.ok(revision >= last.revision, `revision ${revision} covers the last acknowledgement ${last.revision}`);
    // The writer is sequential, so the state at the last acknowledged revision is exactly what the
    // acknowledgements say (a write after it may have landed unacknowledged; that is allowed).
    const expected = new Map<string, { op: string; revision: number }>();
    for (const a of acks) expected.set(a.key, a);
    const want = [...expected].filter(([, a]) => a.op !== 'delete').map(([key, a]) => `${key}@${a.revision}`).sort();
    const listed = await store.list('/durable/', { revision: last.revision });
    const got = listed.items.map((kv) => `${kv.key}@${kv.modRevision}`).sort();
    t.same(got, want, `all ${acks.length} acknowledged writes on ${expected.size} keys are there`);
    const next = await store.create('/durable/after-restart', Buffer.from('x'));
    t.equal(next.modRevision, revision + 1, 'the reopened store writes at once, continuing the revision');
  });

  t.test('acknowledged writes of 32 concurrent writers (group commit) survive SIGKILL', async (t) => {
    const { path, acks } = await writeThenKill(t, 32, 1500);
    const store = openSqliteStore({ path });
    t.teardown(() => store.close());
    const highest = Math.max(...acks.map((a) => a.revision));
    const revision = await store.currentRevision();
    t.ok(revision >= highest, `revision ${revision} covers the highest acknowledgement ${highest}`);
    // The whole history is kept (nothing compacts it): every acknowledged write is in it, at its revision.
    const history = new Set<string>();
    const w = store.watch('/durable/', {
      afterRevision: 0,
      onEvent: (e) => history.add(`${e.type === 'delete' ? 'delete' : 'put'} ${e.kv.key}@${e.kv.modRevision}`),
      onError: (err) => t.fail(err.message),
    });
    t.teardown(() => w.stop());
    await waitFor(() => history.size >= revision, { timeoutMs: 10_000, what: `${revision} events replayed` });
    const missing = acks.filter((a) => !history.has(`${a.op === 'delete' ? 'delete' : 'put'} ${a.key}@${a.revision}`));
    t.same(missing, [], `all ${acks.length} acknowledged writes are there`);
    const next = await store.create('/durable/after-restart', Buffer.from('x'));
    t.equal(next.modRevision, revision + 1, 'the reopened store writes at once, continuing the revision');
  });
}
