// The embedded store: one SQLite file (better-sqlite3, WAL, exclusive lock) holding a revision log.
// Every write appends one row to `log` (a delete appends a tombstone carrying the last value);
// `current` points each live key at its latest row; `meta` holds the revision counter and the
// compaction point. Group commit: writes made while the previous batch is being fsynced (or in the
// same turn of the event loop) share one transaction, each in a savepoint of its own; the batch
// commits, its WAL is fsynced on the thread pool (the event loop never waits on the disk), then its
// writes resolve and their events are published, in revision order. An acknowledged write survives
// kill -9 and power loss, and watchers only ever see durable writes. Reads see a write as soon as it
// is made, up to one batch before it is durable. One process owns the file (the exclusive lock
// refuses a second); watches are served in-process by WatchHub. The only importer of better-sqlite3.

import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { errorMessage } from '../../common/errors.ts';
import { silentLogger } from '../../common/log.ts';
import { Compactor } from './compactor.ts';
import { FileSync, syncDirectory } from './file-sync.ts';
import { assertKey, assertPrefix, assertValue, prefixEnd } from './keys.ts';
import { WatchHub } from './watch-hub.ts';
import {
  StoreError,
  type KeyValue,
  type ListOptions,
  type ListResult,
  type Store,
  type Watch,
  type WatchEvent,
  type WatchOptions,
} from './types.ts';

export interface SqliteStoreOptions {
  /** File path, or ':memory:' for a throw-away store (no WAL, no lock, nothing on disk). */
  readonly path: string;
  readonly log?: Logger;
  /**
   * FULL (default): a write resolves once its WAL frames are fsynced (survives power loss).
   * NORMAL: no fsync per write (survives a crash of the process, not of the machine).
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /** Compact every this many ms, keeping at least one interval of history (0 or absent: never). */
  readonly compactIntervalMs?: number;
}

const SCHEMA_VERSION = 1;
/** Rows deleted per compaction transaction; the loop yields between chunks. */
const COMPACT_CHUNK = 5000;
/** Upper bound for a prefix range when the prefix is empty: above every printable ascii key. */
const KEY_SPACE_END = '\x7f';

interface CurrentRow {
  key: string;
  value: Buffer;
  create_revision: number;
  revision: number;
}

/** Rows read in bulk carry their value as text, packed into one buffer by packValues(). */
interface TextRow {
  key: string;
  value: string;
  create_revision: number;
  revision: number;
}

/** Writes sharing one transaction and one fsync. */
interface Batch {
  /** The revision before its first write. */
  readonly fromRevision: number;
  /** One per write, in revision order. */
  readonly events: WatchEvent[];
  /** Resolves once the batch is durable and its events published; rejects if that failed. */
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: StoreError) => void;
}

interface LogRow {
  revision: number;
  key: string;
  value: string;
  create_revision: number;
  prev_revision: number;
  deleted: number;
  prev_value: string | null;
  prev_create_revision: number | null;
}

export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(opts);
}

export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #log: Logger;
  readonly #path: string;
  readonly #hub: WatchHub;
  /** Last committed revision. */
  #revision: number;
  /** Last revision made durable and published to watchers (<= #revision). */
  #published: number;
  #compacted: number;
  #closed = false;
  /** Set when an fsync failed: durability is unknown, so no more writes are taken. */
  #broken: StoreError | undefined;
  readonly #walSync: FileSync | undefined;
  #compaction: Promise<void> = Promise.resolve();
  readonly #compactor: Compactor;
  readonly #sql: ReturnType<typeof prepareStatements>;
  /** Runs a write in a savepoint of the open batch transaction. */
  readonly #inSavepoint: (fn: () => unknown) => unknown;
  /** Writes made but not yet committed: an open transaction. */
  #batch: Batch | undefined;
  /** The commit of the open batch is scheduled (next turn, or when the running sync ends). */
  #commitScheduled = false;
  /** A committed batch waiting for its fsync; the next batch commits when it ends. */
  #syncing: Promise<void> | undefined;
  /** The last batch committed (for close). */
  #lastDone: Promise<void> = Promise.resolve();

  constructor(opts: SqliteStoreOptions) {
    this.#path = opts.path;
    this.#log = opts.log ?? silentLogger();
    const inMemory = opts.path === ':memory:';
    if (!inMemory) mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
    let db: Database.Database | undefined;
    try {
      db = new Database(opts.path, { timeout: 2000 });
      if (!inMemory) {
        // Exclusive before WAL: the WAL index then lives in heap memory and the lock, taken by the
        // first write below and released by the kernel if we die, keeps a second server out.
        db.pragma('locking_mode = EXCLUSIVE');
        db.pragma('journal_mode = WAL');
      }
      // NORMAL: SQLite itself does not fsync at commit; with FULL asked we fsync the WAL ourselves,
      // off the event loop, before acknowledging (see #acknowledge).
      db.pragma('synchronous = NORMAL');
      db.exec('BEGIN EXCLUSIVE');
      db.exec(SCHEMA);
      db.prepare('INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)').run('schema', SCHEMA_VERSION);
      db.prepare("INSERT OR IGNORE INTO meta (name, value) VALUES ('revision', 0), ('compacted', 0)").run();
      db.exec('COMMIT');
      const schema = readMeta(db, 'schema');
      if (schema !== SCHEMA_VERSION) throw new Error(`schema version ${schema}, this build reads ${SCHEMA_VERSION}`);
    } catch (err) {
      db?.close();
      const busy = (err as { code?: unknown }).code === 'SQLITE_BUSY';
      throw new StoreError('unavailable', `open store ${opts.path}: ${busy ? 'locked by another process' : errorMessage(err)}`, { cause: err });
    }
    this.#db = db;
    this.#sql = prepareStatements(db);
    this.#inSavepoint = db.transaction((fn: () => unknown) => fn());
    const walPath = `${opts.path}-wal`;
    if (!inMemory && (opts.synchronous ?? 'FULL') === 'FULL') {
      if (existsSync(walPath)) {
        syncDirectory(dirname(opts.path));
        this.#walSync = new FileSync(walPath);
      } else {
        this.#log.warn({ path: walPath }, 'no wal file to sync, sqlite will fsync at each commit instead');
        db.pragma('synchronous = FULL');
      }
    }
    this.#revision = readMeta(db, 'revision');
    this.#published = this.#revision;
    this.#compacted = readMeta(db, 'compacted');
    this.#hub = new WatchHub({
      log: this.#log,
      source: {
        readEvents: (prefix, afterRevision, limit) => this.#readEvents(prefix, afterRevision, limit),
        compactedRevision: () => this.#compacted,
        currentRevision: () => this.#published,
      },
    });
    this.#compactor = new Compactor({ store: this, intervalMs: opts.compactIntervalMs ?? 0, log: this.#log });
    this.#compactor.start();
    this.#log.debug({ path: opts.path, revision: this.#revision, compacted: this.#compacted }, 'store opened');
  }

  async get(key: string): Promise<KeyValue | undefined> {
    assertKey(key);
    return this.#run('get', key, () => {
      const row = this.#sql.getCurrent.get(key) as CurrentRow | undefined;
      return row === undefined ? undefined : toKeyValue(row);
    });
  }

  async list(prefix: string, opts: ListOptions = {}): Promise<ListResult> {
    assertPrefix(prefix);
    return this.#run('list', prefix, () => {
      const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : undefined;
      const atRevision = opts.revision !== undefined && opts.revision > 0 ? opts.revision : this.#revision;
      if (atRevision > this.#revision) {
        throw new StoreError('unavailable', `list ${prefix} at revision ${atRevision}: future revision, current is ${this.#revision}`);
      }
      if (atRevision < this.#compacted) {
        throw new StoreError('compacted', `list ${prefix} at revision ${atRevision}: compacted, history starts at revision ${this.#compacted}`);
      }
      const params = {
        lo: prefix,
        after: opts.startAfter ?? '',
        hi: prefixEnd(prefix) ?? KEY_SPACE_END,
        limit: limit === undefined ? -1 : limit + 1,
        rev: atRevision,
      };
      const rows = (atRevision === this.#revision ? this.#sql.listCurrent.all(params) : this.#sql.listAt.all(params)) as TextRow[];
      const more = limit !== undefined && rows.length > limit;
      if (more) rows.length = limit;
      const values = packValues(rows.map((r) => r.value));
      return {
        items: rows.map((r, i) => ({ key: r.key, value: values[i], createRevision: r.create_revision, modRevision: r.revision })),
        revision: atRevision,
        more,
      };
    });
  }

  async count(prefix: string): Promise<number> {
    assertPrefix(prefix);
    return this.#run('count', prefix, () => {
      const row = this.#sql.count.get({ lo: prefix, hi: prefixEnd(prefix) ?? KEY_SPACE_END }) as { n: number };
      return row.n;
    });
  }

  async create(key: string, value: Uint8Array): Promise<KeyValue> {
    assertKey(key);
    assertValue(key, value);
    const { kv, batch } = this.#run('create', key, () =>
      this.#write(() => {
        if (this.#sql.getCurrent.get(key) !== undefined) throw new StoreError('exists', `create ${key}: exists`);
        const revision = this.#revision + 1;
        const kv: KeyValue = { key, value: toBuffer(value), createRevision: revision, modRevision: revision };
        this.#sql.insertLog.run(revision, key, kv.value, revision, 0, 0);
        this.#sql.upsertCurrent.run(key, revision);
        return { revision, kv, event: { type: 'put', kv } satisfies WatchEvent };
      }),
    );
    await this.#acknowledge(`create ${key}`, batch);
    return kv;
  }

  async update(key: string, value: Uint8Array, expectedModRevision?: number): Promise<KeyValue> {
    assertKey(key);
    assertValue(key, value);
    const { kv, batch } = this.#run('update', key, () =>
      this.#write(() => {
        const prevKv = this.#currentOrFail('update', key, expectedModRevision);
        const revision = this.#revision + 1;
        const kv: KeyValue = { key, value: toBuffer(value), createRevision: prevKv.createRevision, modRevision: revision };
        this.#sql.insertLog.run(revision, key, kv.value, kv.createRevision, prevKv.modRevision, 0);
        this.#sql.upsertCurrent.run(key, revision);
        return { revision, kv, event: { type: 'put', kv, prevKv } satisfies WatchEvent };
      }),
    );
    await this.#acknowledge(`update ${key}`, batch);
    return kv;
  }

  async delete(key: string, expectedModRevision?: number): Promise<KeyValue> {
    assertKey(key);
    const { kv, batch } = this.#run('delete', key, () =>
      this.#write(() => {
        const prevKv = this.#currentOrFail('delete', key, expectedModRevision);
        const revision = this.#revision + 1;
        const kv: KeyValue = { ...prevKv, modRevision: revision };
        // The tombstone keeps the last value so that replayed delete events are whole.
        this.#sql.insertLog.run(revision, key, prevKv.value, prevKv.createRevision, prevKv.modRevision, 1);
        this.#sql.deleteCurrent.run(key);
        return { revision, kv, event: { type: 'delete', kv, prevKv } satisfies WatchEvent };
      }),
    );
    await this.#acknowledge(`delete ${key}`, batch);
    return kv;
  }

  watch(prefix: string, opts: WatchOptions): Watch {
    assertPrefix(prefix);
    if (this.#closed) {
      queueMicrotask(() => opts.onError(new StoreError('closed', `watch ${prefix}: store closed`)));
      return { stop: () => {} };
    }
    return this.#hub.watch(prefix, opts);
  }

  async currentRevision(): Promise<number> {
    this.#assertOpen('current revision');
    return this.#revision;
  }

  compact(revision: number): Promise<void> {
    // Serialised: a second compaction waits for the first.
    const next = this.#compaction.then(() => this.#compact(revision));
    this.#compaction = next.catch(() => {});
    return next;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#compactor.stop();
    this.#hub.failAll(new StoreError('closed', `watch: store ${this.#path} closed`));
    await this.#compaction;
    // Writes already made are committed and synced (their callers are waiting for them).
    if (this.#batch !== undefined && this.#syncing === undefined) this.#commit();
    while (this.#batch !== undefined || this.#syncing !== undefined) await this.#lastDone.catch(() => {});
    await this.#walSync?.close();
    this.#db.close();
    this.#log.debug({ path: this.#path, revision: this.#revision }, 'store closed');
  }

  /** Number of live watches (for metrics and tests). */
  get watchCount(): number {
    return this.#hub.size;
  }

  async #compact(revision: number): Promise<void> {
    this.#assertOpen(`compact at revision ${revision}`);
    if (revision <= this.#compacted) return;
    if (revision > this.#revision) {
      throw new StoreError('unavailable', `compact at revision ${revision}: future revision, current is ${this.#revision}`);
    }
    const started = performance.now();
    // step 1: move the compaction point first, so reads below it fail while rows are removed
    this.#run('compact', String(revision), () => {
      this.#sql.setMeta.run(revision, 'compacted');
      this.#compacted = revision;
    });
    // step 2: delete superseded rows and tombstones at or below it, a chunk per transaction
    const first = (this.#sql.minRevision.get() as { r: number | null }).r ?? revision;
    let removed = 0;
    for (let lo = first - 1; lo < revision; lo += COMPACT_CHUNK) {
      if (this.#closed) return;
      const hi = Math.min(lo + COMPACT_CHUNK, revision);
      removed += this.#run('compact', String(revision), () => this.#sql.compactChunk.run({ lo, hi, rev: revision }).changes);
      await yieldToLoop();
    }
    this.#log.info({ revision, removed, ms: Math.round(performance.now() - started) }, 'store compacted');
  }

  /** The current pair, or `notFound` / `conflict` for a failed precondition. Inside a write. */
  #currentOrFail(op: string, key: string, expectedModRevision: number | undefined): KeyValue {
    const row = this.#sql.getCurrent.get(key) as CurrentRow | undefined;
    if (row === undefined) throw new StoreError('notFound', `${op} ${key}: not found`);
    if (expectedModRevision !== undefined && row.revision !== expectedModRevision) {
      throw new StoreError('conflict', `${op} ${key}: revision ${expectedModRevision} is stale, current is ${row.revision}`);
    }
    return toKeyValue(row);
  }

  /**
   * One write bumping the revision, made at once in the open batch (opened here if none is), in a
   * savepoint: a write that throws leaves the batch as it was. Returns the batch to wait on.
   */
  #write<T extends { revision: number; event: WatchEvent }>(fn: () => T): T & { batch: Batch } {
    if (this.#broken !== undefined) throw this.#broken;
    const batch = this.#openBatch();
    let result: T;
    try {
      result = this.#inSavepoint(fn) as T;
    } catch (err) {
      // SQLite rolls back the whole transaction on some failures (I/O, full disk): the writes made
      // before in this batch are gone too, so they fail, and so does the store (as on a failed fsync).
      if (!this.#db.inTransaction) this.#failBatch(batch, err);
      throw err;
    }
    this.#revision = result.revision;
    batch.events.push(result.event);
    return { ...result, batch };
  }

  #openBatch(): Batch {
    if (this.#batch !== undefined) return this.#batch;
    this.#sql.begin.run();
    let resolve!: () => void;
    let reject!: (err: StoreError) => void;
    const done = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
    done.catch(() => {}); // the writers waiting on it handle the failure
    const batch: Batch = { fromRevision: this.#revision, events: [], done, resolve, reject };
    this.#batch = batch;
    this.#lastDone = done;
    // Commit on the next turn, so that the writes of this one share the batch; or, when a sync is
    // running, once it ends: the writes made meanwhile then share the next one.
    if (this.#syncing === undefined && !this.#commitScheduled) {
      this.#commitScheduled = true;
      setImmediate(() => {
        this.#commitScheduled = false;
        if (this.#syncing === undefined) this.#commit();
      });
    }
    return batch;
  }

  /**
   * Commit the open batch and start its fsync; when that ends, publish its events, resolve its
   * writers and commit the batch opened meanwhile. Never throws: failures go to the batch's writers.
   */
  #commit(): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    this.#batch = undefined;
    const started = performance.now();
    try {
      if (this.#broken !== undefined) throw this.#broken;
      if (batch.events.length > 0) this.#sql.setMeta.run(this.#revision, 'revision');
      this.#sql.commit.run();
    } catch (err) {
      this.#failBatch(batch, err);
      return;
    }
    this.#log.debug({ writes: batch.events.length, revision: this.#revision, ms: performance.now() - started }, 'store batch committed');
    if (this.#walSync === undefined) {
      this.#publish(batch);
      return;
    }
    const syncing = this.#walSync.sync().then(
      () => this.#publish(batch),
      (err: unknown) => this.#failBatch(batch, err, 'sync'),
    ).finally(() => {
      if (this.#syncing === syncing) this.#syncing = undefined;
      this.#commit();
    });
    this.#syncing = syncing;
  }

  #publish(batch: Batch): void {
    for (const event of batch.events) {
      this.#published = event.kv.modRevision;
      this.#hub.publish(event);
    }
    batch.resolve();
  }

  /**
   * A batch whose durability is unknown: its writers fail, and so does every later write (restart the
   * server); watches end. Rolls back what is still open.
   */
  #failBatch(batch: Batch, err: unknown, op: 'commit' | 'sync' = 'commit'): void {
    if (this.#batch === batch) this.#batch = undefined;
    if (op === 'commit') {
      if (this.#db.inTransaction) {
        try {
          this.#sql.rollback.run();
        } catch (rollbackErr) {
          this.#log.error({ path: this.#path, err: errorMessage(rollbackErr) }, 'store rollback failed');
        }
      }
      this.#revision = batch.fromRevision; // its writes are gone
    }
    if (this.#broken === undefined) {
      this.#broken = new StoreError('unavailable', `${op} store ${this.#path}: ${errorMessage(err)}; no more writes are taken, restart the server`, { cause: err });
      this.#log.error({ path: this.#path, revision: this.#revision, writes: batch.events.length, err: errorMessage(err) }, `store ${op} failed`);
      this.#hub.failAll(this.#broken);
    }
    batch.reject(this.#broken);
  }

  /** Wait until the write's batch is durable and published. */
  async #acknowledge(what: string, batch: Batch): Promise<void> {
    try {
      await batch.done;
    } catch (err) {
      throw new StoreError('unavailable', `${what}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Runs one boundary call: closed check, debug log with duration, SQLite failures as `unavailable`. */
  #run<T>(op: string, target: string, fn: () => T): T {
    this.#assertOpen(`${op} ${target}`);
    const started = performance.now();
    try {
      const result = fn();
      this.#log.debug({ op, target, revision: this.#revision, ms: performance.now() - started }, 'store call');
      return result;
    } catch (err) {
      this.#log.debug({ op, target, ms: performance.now() - started, err: errorMessage(err) }, 'store call failed');
      if (err instanceof StoreError) throw err;
      throw new StoreError('unavailable', `${op} ${target}: ${errorMessage(err)}`, { cause: err });
    }
  }

  #assertOpen(what: string): void {
    if (this.#closed) throw new StoreError('closed', `${what}: store closed`);
  }

  #readEvents(prefix: string, afterRevision: number, limit: number): WatchEvent[] {
    this.#assertOpen(`watch ${prefix}`);
    // Up to the published revision: later ones reach the watcher through publish() once durable.
    const rows = this.#sql.readLog.all({ after: afterRevision, upTo: this.#published, lo: prefix, hi: prefixEnd(prefix) ?? KEY_SPACE_END, limit }) as LogRow[];
    const values = packValues(rows.flatMap((r) => (r.prev_value === null ? [r.value] : [r.value, r.prev_value])));
    let next = 0;
    return rows.map((r) => toWatchEvent(r, values[next++], r.prev_value === null ? undefined : values[next++]));
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log (
  revision INTEGER PRIMARY KEY,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  deleted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision);
CREATE TABLE IF NOT EXISTS current (key TEXT PRIMARY KEY, revision INTEGER NOT NULL) WITHOUT ROWID;
`;

function prepareStatements(db: Database.Database) {
  return {
    getCurrent: db.prepare(`SELECT c.key, l.value, l.create_revision, c.revision FROM current c JOIN log l ON l.revision = c.revision WHERE c.key = ?`),
    listCurrent: db.prepare(`
      SELECT c.key, CAST(l.value AS TEXT) AS value, l.create_revision, c.revision FROM current c JOIN log l ON l.revision = c.revision
      WHERE c.key >= @lo AND c.key > @after AND c.key < @hi ORDER BY c.key LIMIT @limit`),
    // The latest row of each key at or below @rev, unless that row is a tombstone.
    listAt: db.prepare(`
      SELECT l.key, CAST(l.value AS TEXT) AS value, l.create_revision, l.revision FROM
        (SELECT MAX(revision) AS r FROM log WHERE key >= @lo AND key > @after AND key < @hi AND revision <= @rev GROUP BY key) m
        JOIN log l ON l.revision = m.r
      WHERE l.deleted = 0 ORDER BY l.key LIMIT @limit`),
    count: db.prepare(`SELECT COUNT(*) AS n FROM current WHERE key >= @lo AND key < @hi`),
    // Walk by revision (the unary + keeps the planner off the key index): replays start near the head.
    readLog: db.prepare(`
      SELECT l.revision, l.key, CAST(l.value AS TEXT) AS value, l.create_revision, l.prev_revision, l.deleted,
             CAST(p.value AS TEXT) AS prev_value, p.create_revision AS prev_create_revision
      FROM log l LEFT JOIN log p ON p.revision = l.prev_revision AND l.deleted = 0
      WHERE l.revision > @after AND l.revision <= @upTo AND +l.key >= @lo AND +l.key < @hi ORDER BY l.revision LIMIT @limit`),
    insertLog: db.prepare(`INSERT INTO log (revision, key, value, create_revision, prev_revision, deleted) VALUES (?, ?, ?, ?, ?, ?)`),
    upsertCurrent: db.prepare(`INSERT INTO current (key, revision) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET revision = excluded.revision`),
    deleteCurrent: db.prepare(`DELETE FROM current WHERE key = ?`),
    setMeta: db.prepare(`UPDATE meta SET value = ? WHERE name = ?`),
    begin: db.prepare('BEGIN IMMEDIATE'),
    commit: db.prepare('COMMIT'),
    rollback: db.prepare('ROLLBACK'),
    minRevision: db.prepare(`SELECT MIN(revision) AS r FROM log`),
    // Keep, per key, the latest row at or below @rev unless it is a tombstone; newer rows are untouched.
    compactChunk: db.prepare(`
      DELETE FROM log WHERE revision > @lo AND revision <= @hi
        AND (deleted = 1 OR revision < (SELECT MAX(x.revision) FROM log x WHERE x.key = log.key AND x.revision <= @rev))`),
  };
}

function readMeta(db: Database.Database, name: string): number {
  const row = db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: number } | undefined;
  return row?.value ?? 0;
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function toKeyValue(row: CurrentRow): KeyValue {
  return { key: row.key, value: row.value, createRevision: row.create_revision, modRevision: row.revision };
}

function toWatchEvent(row: LogRow, value: Buffer, prevValue: Buffer | undefined): WatchEvent {
  const kv: KeyValue = { key: row.key, value, createRevision: row.create_revision, modRevision: row.revision };
  if (row.deleted === 1) {
    return { type: 'delete', kv, prevKv: { ...kv, modRevision: row.prev_revision } };
  }
  if (prevValue === undefined || row.prev_create_revision === null) return { type: 'put', kv };
  const prevKv: KeyValue = { key: row.key, value: prevValue, createRevision: row.prev_create_revision, modRevision: row.prev_revision };
  return { type: 'put', kv, prevKv };
}

/**
 * Values of a bulk read, as slices of one buffer. Read one Buffer per row instead and a full list
 * of 10,000 pods leaves ~150 MiB of malloc fragments behind; strings live on the V8 heap and one
 * large buffer goes back to the kernel when its last slice is collected. Values are UTF-8 (checked
 * on write), so the text round trip is exact.
 */
function packValues(texts: readonly string[]): Buffer[] {
  let total = 0;
  for (const t of texts) total += Buffer.byteLength(t);
  const slab = Buffer.allocUnsafeSlow(total);
  let offset = 0;
  return texts.map((t) => {
    const n = slab.write(t, offset);
    const value = slab.subarray(offset, offset + n);
    offset += n;
    return value;
  });
}
