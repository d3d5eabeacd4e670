// The base of every error Moor raises: a stable string code, the class name as `name`, and the
// original failure kept as `cause`. Each boundary (commands, CRI, store, CNI) subclasses it.

export class NodeError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** A subprocess that failed: what ran, how it ended and what it said on stderr. */
export class CommandError extends NodeError {
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;

  constructor(opts: { code?: string; message: string; argv: readonly string[]; exitCode?: number; stderr?: string; cause?: unknown }) {
    super(opts.code ?? 'command-failed', opts.message, { cause: opts.cause });
    this.argv = opts.argv;
    this.exitCode = opts.exitCode;
    this.stderr = opts.stderr ?? '';
  }
}

/** The message of anything thrown, for logs and wrapped errors. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
