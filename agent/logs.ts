// Container logs from the CRI log files containerd writes (`<RFC3339Nano> <stdout|stderr> <P|F>
// <text>`): partial chunks are joined into lines, the last N lines read from the end of the file,
// optional timestamps, and follow mode that tails the file until the container stops or the reader
// goes away. The only module that reads log files.

import { open, stat } from 'node:fs/promises';

export interface CriLogLine {
  readonly time: string;
  readonly stream: 'stdout' | 'stderr';
  /** true for a P (partial) chunk, continued by the next line of the same stream. */
  readonly partial: boolean;
  readonly text: string;
}

export function parseCriLogLine(line: string): CriLogLine | undefined {
  const a = line.indexOf(' ');
  const b = a < 0 ? -1 : line.indexOf(' ', a + 1);
  const c = b < 0 ? -1 : line.indexOf(' ', b + 1);
  if (a < 0 || b < 0) return undefined;
  const stream = line.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const tag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
  const text = c < 0 ? '' : line.slice(c + 1);
  return { time: line.slice(0, a), stream, partial: tag.split(':').includes('P'), text };
}

export interface LogFormat {
  readonly timestamps: boolean;
}

/**
 * Turns raw CRI lines into output lines, joining partial chunks per stream. Feed it complete raw
 * lines; it returns the finished output lines (with "\n").
 */
export class LogAssembler {
  readonly #format: LogFormat;
  readonly #pending = new Map<string, { time: string; text: string }>();

  constructor(format: LogFormat) {
    this.#format = format;
  }

  push(raw: string): string[] {
    const l = parseCriLogLine(raw);
    if (l === undefined) return [];
    const pending = this.#pending.get(l.stream);
    const time = pending?.time ?? l.time;
    const text = (pending?.text ?? '') + l.text;
    if (l.partial) {
      this.#pending.set(l.stream, { time, text });
      return [];
    }
    this.#pending.delete(l.stream);
    return [`${this.#format.timestamps ? `${time} ` : ''}${text}\n`];
  }
}

const CHUNK = 64 * 1024;

/**
 * The raw lines from the point where the last `tailLines` output lines start (all lines when
 * undefined), and the file offset just after the last complete line read.
 */
export async function readTail(path: string, tailLines: number | undefined): Promise<{ lines: string[]; offset: number }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let start = size;
    let buf = Buffer.alloc(0);
    // Read backwards until enough complete (F) lines are in hand, or the file starts.
    for (;;) {
      if (tailLines === undefined) {
        start = 0;
        break;
      }
      const text = buf.toString('utf8');
      const full = text.split('\n').filter((l) => parseCriLogLine(l)?.partial === false).length;
      if (full > tailLines || start === 0) break;
      const next = Math.max(0, start - CHUNK);
      const chunk = Buffer.alloc(start - next);
      await fh.read(chunk, 0, chunk.length, next);
      buf = Buffer.concat([chunk, buf]);
      start = next;
    }
    if (tailLines === undefined) {
      buf = Buffer.alloc(size);
      await fh.read(buf, 0, size, 0);
    }
    const text = buf.toString('utf8');
    const lastNewline = text.lastIndexOf('\n');
    const complete = lastNewline < 0 ? '' : text.slice(0, lastNewline);
    let rawLines = complete === '' ? [] : complete.split('\n');
    // The first line may be cut in the middle when reading started mid-file.
    if (start > 0) rawLines = rawLines.slice(1);
    if (tailLines !== undefined) {
      // Keep the raw lines making up the last `tailLines` output lines (partial chunks belong to the F after them).
      let full = 0;
      let from = rawLines.length;
      for (let i = rawLines.length - 1; i >= 0; i--) {
        if (parseCriLogLine(rawLines[i])?.partial === false) {
          if (full === tailLines) break;
          full++;
        }
        from = i;
      }
      rawLines = rawLines.slice(from);
    }
    const consumed = lastNewline < 0 ? 0 : Buffer.byteLength(text.slice(0, lastNewline + 1));
    return { lines: rawLines, offset: start + consumed };
  } finally {
    await fh.close();
  }
}

export interface StreamLogOptions {
  readonly path: string;
  readonly tailLines?: number;
  readonly timestamps: boolean;
  readonly follow: boolean;
  /** Stops following once this returns false and the file has no more data. */
  readonly isRunning?: () => boolean | Promise<boolean>;
  readonly write: (chunk: string) => boolean | void;
  readonly signal?: AbortSignal;
  readonly pollMs?: number;
}

/** Write the log (tail, then followed output) through `write`. */
export async function streamContainerLog(o: StreamLogOptions): Promise<void> {
  const assembler = new LogAssembler({ timestamps: o.timestamps });
  const { lines, offset } = await readTail(o.path, o.tailLines);
  for (const raw of lines) for (const out of assembler.push(raw)) o.write(out);
  if (!o.follow) return;
  let pos = offset;
  let carry = '';
  const pollMs = o.pollMs ?? 200;
  while (!o.signal?.aborted) {
    const size = await stat(o.path).then((s) => s.size, () => -1);
    if (size < 0) return; // the file went away (container removed)
    if (size > pos) {
      const fh = await open(o.path, 'r');
      try {
        const buf = Buffer.alloc(size - pos);
        await fh.read(buf, 0, buf.length, pos);
        pos = size;
        const text = carry + buf.toString('utf8');
        const cut = text.lastIndexOf('\n');
        carry = cut < 0 ? text : text.slice(cut + 1);
        if (cut >= 0) for (const raw of text.slice(0, cut).split('\n')) for (const out of assembler.push(raw)) o.write(out);
      } finally {
        await fh.close();
      }
      continue;
    }
    if (o.isRunning !== undefined && !(await o.isRunning())) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, pollMs);
      o.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  }
}
