// FileSync: syncs resolve, calls made while one runs share the next sync, close ends it.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSync } from '../../../../controlplane/store/file-sync.ts';

t.test('group commit: calls during a running sync share the next one', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'moor-fsync-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'f');
  writeFileSync(path, 'x');
  const sync = new FileSync(path);
  t.teardown(() => sync.close());
  const first = sync.sync();
  const second = sync.sync();
  const third = sync.sync();
  t.not(first, second, 'a call during a running sync does not reuse it');
  t.equal(second, third, 'calls during the same running sync share the next one');
  await Promise.all([first, second, third]);
  const later = sync.sync();
  t.not(later, third, 'after both finished, a new sync starts');
  await later;
  await sync.close();
  await t.rejects(sync.sync(), /closed/, 'sync after close fails');
});
