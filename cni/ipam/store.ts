// The built-in IPAM's on-disk store, in host-local's layout so admins and tools that know host-local
// can read it: <dataDir>/<network>/<ip> holds "<containerId>\r\n<ifName>", last_reserved_ip.<n> the
// last address handed out from range set n, and an empty `lock` file.
// Exclusion across concurrent plugin processes: a reservation is made by link()ing a fully written
// temporary file to the address's name, which fails with EEXIST when the address is taken, so two
// processes can never both own an address and a killed process never leaves a half-written file.
// (Node has no flock(); host-local's lock serialises its own check-then-create, which link() makes
// unnecessary here. The `lock` file is created for layout compatibility only.)

import { accessSync, constants, linkSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type IpAddr, formatIp, parseIp } from '../addr.ts';
import { CniError } from '../errors.ts';
import { sha256Hex } from '../hash.ts';

export interface Reservation {
  readonly ip: IpAddr;
  readonly containerId: string;
  /** empty for files written by host-local before it recorded interface names */
  readonly ifName: string;
}

const TMP_PREFIX = '.moor-';

function isEnoent(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

function storeError(op: string, path: string, err: unknown): CniError {
  return new CniError('ipamStore', `${op} ${path}: ${(err as Error).message}`, { cause: err });
}

export function parseReservation(text: string): { containerId: string; ifName: string } {
  const [containerId = '', ifName = ''] = text.split(/\r?\n/);
  return { containerId: containerId.trim(), ifName: ifName.trim() };
}

export class IpamStore {
  readonly dir: string;
  #tmpPath: string | undefined;

  constructor(dataDir: string, network: string) {
    this.dir = join(dataDir, network);
  }

  /** Create the network's directory (and the `lock` file next to the reservations) when missing. */
  ensureDir(): void {
    try {
      const created = mkdirSync(this.dir, { recursive: true, mode: 0o755 });
      if (created !== undefined) closeSync(openSync(join(this.dir, 'lock'), 'a', 0o600));
    } catch (err) {
      throw storeError('create ipam directory', this.dir, err);
    }
  }

  /** Throws when the directory cannot be created or written (STATUS). */
  checkWritable(): void {
    this.ensureDir();
    try {
      accessSync(this.dir, constants.W_OK);
    } catch (err) {
      throw storeError('write ipam directory', this.dir, err);
    }
  }

  #attachmentTmp(containerId: string, ifName: string): string {
    return join(this.dir, `${TMP_PREFIX}${sha256Hex(`${containerId}\n${ifName}`).slice(0, 16)}.tmp`);
  }

  /** Reserve `ip` for the attachment; false when someone else holds it. */
  tryReserve(ip: IpAddr, containerId: string, ifName: string): boolean {
    if (this.#tmpPath === undefined) {
      const tmp = this.#attachmentTmp(containerId, ifName);
      try {
        writeFileSync(tmp, `${containerId}\r\n${ifName}`, { mode: 0o644 });
      } catch (err) {
        throw storeError('write reservation', tmp, err);
      }
      this.#tmpPath = tmp;
    }
    const path = join(this.dir, formatIp(ip));
    try {
      linkSync(this.#tmpPath, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw storeError('reserve', path, err);
    }
  }

  /** Remove the temporary file tryReserve() links from (called once reserving is over). */
  finishReserving(): void {
    if (this.#tmpPath === undefined) return;
    try {
      unlinkSync(this.#tmpPath);
    } catch (err) {
      if (!isEnoent(err)) throw storeError('remove', this.#tmpPath, err);
    }
    this.#tmpPath = undefined;
  }

  lastReserved(rangeSetIdx: number): IpAddr | undefined {
    try {
      return parseIp(readFileSync(join(this.dir, `last_reserved_ip.${rangeSetIdx}`), 'utf8').trim());
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw storeError('read', join(this.dir, `last_reserved_ip.${rangeSetIdx}`), err);
    }
  }

  setLastReserved(rangeSetIdx: number, ip: IpAddr): void {
    const path = join(this.dir, `last_reserved_ip.${rangeSetIdx}`);
    try {
      // Written in place, as host-local does: the file is only where the next search starts, and
      // a reader that catches it truncated just starts at the range's beginning. A temporary file
      // and a rename would cost two more metadata operations on every ADD.
      writeFileSync(path, formatIp(ip));
    } catch (err) {
      throw storeError('write', path, err);
    }
  }

  lookup(ip: IpAddr): Reservation | undefined {
    const path = join(this.dir, formatIp(ip));
    try {
      return { ip, ...parseReservation(readFileSync(path, 'utf8')) };
    } catch (err) {
      if (isEnoent(err)) return undefined;
      throw storeError('read reservation', path, err);
    }
  }

  /** Remove `ip`'s reservation if the attachment holds it; true when removed. */
  release(ip: IpAddr, containerId: string, ifName: string): boolean {
    const held = this.lookup(ip);
    if (held === undefined || !sameAttachment(held, containerId, ifName)) return false;
    const path = join(this.dir, formatIp(ip));
    try {
      unlinkSync(path);
      return true;
    } catch (err) {
      if (isEnoent(err)) return false;
      throw storeError('release', path, err);
    }
  }

  /** Every reservation in the directory (temporary files not included). */
  list(): Reservation[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (isEnoent(err)) return [];
      throw storeError('list', this.dir, err);
    }
    const out: Reservation[] = [];
    for (const name of names) {
      const ip = parseIp(name);
      if (ip === undefined) continue;
      const r = this.lookup(ip);
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  findByAttachment(containerId: string, ifName: string): IpAddr[] {
    return this.list().filter((r) => sameAttachment(r, containerId, ifName)).map((r) => r.ip);
  }

  /** Remove leftover temporary files (a reserving process was killed); `keep` spares attachments. */
  removeStaleTemporaries(keep: (containerId: string, ifName: string) => boolean): number {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (isEnoent(err)) return 0;
      throw storeError('list', this.dir, err);
    }
    let removed = 0;
    for (const name of names) {
      if (!name.startsWith(TMP_PREFIX)) continue;
      const path = join(this.dir, name);
      try {
        const r = parseReservation(readFileSync(path, 'utf8'));
        if (keep(r.containerId, r.ifName)) continue;
        unlinkSync(path);
        removed++;
      } catch (err) {
        if (!isEnoent(err)) throw storeError('remove', path, err);
      }
    }
    return removed;
  }

  /** Remove the attachment's own temporary file, if a killed ADD left it. */
  removeAttachmentTemporary(containerId: string, ifName: string): void {
    const tmp = this.#attachmentTmp(containerId, ifName);
    try {
      unlinkSync(tmp);
    } catch (err) {
      if (!isEnoent(err)) throw storeError('remove', tmp, err);
    }
  }
}

export function sameAttachment(r: { containerId: string; ifName: string }, containerId: string, ifName: string): boolean {
  // host-local files from before interface names were recorded hold the container id alone
  return r.containerId === containerId && (r.ifName === '' || r.ifName === ifName);
}
