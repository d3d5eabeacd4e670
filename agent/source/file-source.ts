// Static pods from --pod-manifest-path (a directory, or one file): every regular file not starting
// with "." is a manifest. The directory is watched (inotify through fs.watch, debounced a little so
// a file being written is read once it is complete) and rescanned periodically as a safety net.
// Each change delivers the whole set. A file or document that fails validation is reported with its
// reasons and contributes no pod; every other pod carries on. Unchanged files are not re-parsed.

import { statSync, watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CoalescedPass } from '../../common/coalesce.ts';
import type { Logger } from '../../common/log.ts';
import { errorMessage } from '../../common/errors.ts';
import { parseManifest, type ParsedManifest } from '../manifest/parse.ts';
import type { Pod } from '../pod/types.ts';
import type { ManifestStatus, PodSource, PodSourceUpdate } from './types.ts';

const MAX_MANIFEST_BYTES = 10 * 1024 * 1024;

export interface FileSourceOptions {
  readonly path: string;
  readonly nodeName: string;
  readonly log: Logger;
  /** Full rescan period; the kubelet's fileCheckFrequency is 20 s. */
  readonly rescanPeriodMs?: number;
  /** Quiet time after a change event before reading (coalesces a burst of events); default 2 ms. */
  readonly debounceMs?: number;
}

interface CachedFile {
  readonly key: string;
  readonly parsed: ParsedManifest;
}

export class FileSource implements PodSource {
  readonly #o: FileSourceOptions;
  readonly #cache = new Map<string, CachedFile>();
  #watcher: FSWatcher | undefined;
  #rescanTimer: NodeJS.Timeout | undefined;
  #debounceTimer: NodeJS.Timeout | undefined;
  #onUpdate: ((u: PodSourceUpdate) => void) | undefined;
  readonly #scans = new CoalescedPass(() => this.#scanOnce(), () => this.#stopped);
  #lastJson = '';
  #stopped = false;
  #manifests: ManifestStatus[] = [];
  #missingLogged = false;
  #fileMode: boolean | undefined;
  /** Inode of the watched directory: a directory removed and made again needs a new watch. */
  #watchedIno: string | undefined;

  constructor(opts: FileSourceOptions) {
    this.#o = opts;
  }

  /** The last scan's view of every manifest file. */
  get manifests(): readonly ManifestStatus[] {
    return this.#manifests;
  }

  async start(onUpdate: (u: PodSourceUpdate) => void): Promise<void> {
    this.#onUpdate = onUpdate;
    await this.scan();
    this.#ensureWatch();
    const period = this.#o.rescanPeriodMs ?? 20_000;
    const tick = (): void => {
      if (this.#stopped) return;
      this.#ensureWatch();
      void this.scan();
      this.#rescanTimer = setTimeout(tick, period);
      this.#rescanTimer.unref?.();
    };
    this.#rescanTimer = setTimeout(tick, period);
    this.#rescanTimer.unref?.();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watcher?.close();
    if (this.#rescanTimer) clearTimeout(this.#rescanTimer);
    if (this.#debounceTimer) clearTimeout(this.#debounceTimer);
    await this.#scans.running;
  }

  #ensureWatch(): void {
    if (this.#stopped) return;
    const target = this.#isFileMode() ? dirname(this.#o.path) : this.#o.path;
    let ino: string | undefined;
    try {
      const st = statSync(target);
      ino = `${st.ino}:${st.birthtimeMs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (this.#watcher !== undefined && ino === this.#watchedIno) return;
    this.#watcher?.close();
    this.#watcher = undefined;
    if (ino === undefined) return;
    try {
      // Watching the parent of a single file also sees it replaced by rename.
      const self = basename(target);
      const watcher = watch(target, { persistent: false }, (_event, filename) => {
        // The watched directory itself removed or renamed: this watch is dead; the scan makes a new one.
        if (filename === self && this.#watcher === watcher) {
          watcher.close();
          this.#watcher = undefined;
        } else if (!this.#concerns(filename)) return;
        this.#changed();
      });
      this.#watcher = watcher;
      this.#watchedIno = ino;
      this.#watcher.on('error', (err) => {
        this.#o.log.warn({ path: this.#o.path, err: errorMessage(err) }, 'watch manifest path failed; relying on rescans');
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#o.log.warn({ path: this.#o.path, err: errorMessage(err) }, 'watch manifest path failed; relying on rescans');
    }
  }

  /**
   * Whether a change to `filename` (in the watched directory) can change the pods: not for files
   * the scan ignores (dotfiles, such as the temporary file of an atomic write) or, watching a single
   * manifest's directory, for its other files. A scan started for those would only delay the one
   * for the file that matters.
   */
  #concerns(filename: string | null): boolean {
    if (filename === null) return true;
    if (this.#isFileMode()) return filename === basename(this.#o.path);
    return !filename.startsWith('.');
  }

  #isFileMode(): boolean {
    return this.#fileMode === true;
  }

  #changed(): void {
    if (this.#debounceTimer) clearTimeout(this.#debounceTimer);
    this.#debounceTimer = setTimeout(() => void this.scan(), this.#o.debounceMs ?? 2);
  }

  /** Read the manifests now and deliver the set if it changed. Concurrent calls coalesce into one more scan. */
  scan(): Promise<void> {
    return this.#scans.run();
  }

  async #listFiles(): Promise<string[]> {
    let s;
    try {
      s = await stat(this.#o.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!this.#missingLogged) this.#o.log.warn({ path: this.#o.path }, 'pod manifest path does not exist; waiting for it');
      this.#missingLogged = true;
      return [];
    }
    this.#missingLogged = false;
    if (s.isFile()) {
      this.#fileMode = true;
      return [this.#o.path];
    }
    this.#fileMode = false;
    const entries = await readdir(this.#o.path, { withFileTypes: true });
    return entries.filter((e) => !e.name.startsWith('.') && (e.isFile() || e.isSymbolicLink())).map((e) => join(this.#o.path, e.name)).sort();
  }

  async #read(path: string): Promise<ParsedManifest | undefined> {
    let s;
    try {
      s = await stat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // removed since the listing
      throw err;
    }
    if (!s.isFile()) return undefined;
    const key = `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
    const cached = this.#cache.get(path);
    if (cached?.key === key) return cached.parsed;
    let parsed: ParsedManifest;
    if (s.size > MAX_MANIFEST_BYTES) parsed = { pods: [], problems: [{ document: 0, errors: [`read manifest: ${s.size} bytes is more than the ${MAX_MANIFEST_BYTES} allowed`] }] };
    else {
      const text = await readFile(path, 'utf8');
      parsed = parseManifest(text, { nodeName: this.#o.nodeName, path });
    }
    this.#cache.set(path, { key, parsed });
    for (const p of parsed.problems) this.#o.log.warn({ path, document: p.document, errors: p.errors }, 'invalid pod manifest');
    return parsed;
  }

  async #scanOnce(): Promise<void> {
    let files: string[];
    try {
      files = await this.#listFiles();
      this.#ensureWatch();
    } catch (err) {
      this.#o.log.warn({ path: this.#o.path, err: errorMessage(err) }, 'list pod manifests failed; keeping the previous set');
      return;
    }
    const pods: Pod[] = [];
    const manifests: ManifestStatus[] = [];
    const owners = new Map<string, string>();
    // Files are read concurrently (mostly stat calls answered from the cache), then taken in name order.
    const reads = await Promise.all(files.map((path) => this.#read(path).then((parsed) => ({ parsed }), (err: unknown) => ({ err }))));
    for (const [i, path] of files.entries()) {
      const r = reads[i];
      if ('err' in r) {
        manifests.push({ path, pods: [], problems: [{ document: 0, errors: [`read manifest: ${errorMessage(r.err)}`] }] });
        continue;
      }
      const parsed = r.parsed;
      if (parsed === undefined) continue;
      const problems = [...parsed.problems];
      const names: string[] = [];
      for (const [i, pod] of parsed.pods.entries()) {
        const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
        const owner = owners.get(key) ?? (pods.some((p) => p.metadata.uid === pod.metadata.uid) ? 'another document' : undefined);
        if (owner !== undefined) {
          problems.push({ document: i + 1, errors: [`metadata.name: Duplicate value: pod ${key} is also defined in ${owner}`] });
          continue;
        }
        owners.set(key, basename(path));
        names.push(key);
        pods.push(pod);
      }
      manifests.push({ path, pods: names, problems });
    }
    for (const path of [...this.#cache.keys()]) if (!files.includes(path)) this.#cache.delete(path);
    this.#manifests = manifests;
    const json = JSON.stringify({ pods, manifests });
    if (json === this.#lastJson || this.#stopped) return;
    this.#lastJson = json;
    this.#onUpdate?.({ pods, manifests });
  }
}
