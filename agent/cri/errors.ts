// CRI failures as typed errors: a gRPC status becomes a CriError whose `kind` callers branch on,
// keeping the numeric gRPC code, the runtime's own text (`details`) and the RPC that failed.
// containerd's codes are coarse (most failures are UNKNOWN with free text), so the text matching
// a caller needs (a reserved name) lives here too, next to the code mapping. No gRPC import: the
// codes are plain numbers, so the fake and the unit tests use this module without grpc-js.

import { NodeError } from '../../common/errors.ts';

export type CriErrorKind = 'notFound' | 'unavailable' | 'deadline' | 'invalid' | 'unimplemented' | 'other';

/** gRPC status codes (the numbers are fixed by the gRPC protocol). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const grpcCodeNames = new Map<number, string>(Object.entries(GrpcCode).map(([name, code]) => [code, name]));

/** The stable NodeError `code` of each kind. Never reuse a retired code. */
export const CRI_ERROR_CODES: Readonly<Record<CriErrorKind, string>> = {
  notFound: 'cri-not-found',
  unavailable: 'cri-unavailable',
  deadline: 'cri-deadline',
  invalid: 'cri-invalid',
  unimplemented: 'cri-unimplemented',
  other: 'cri-other',
};

export function grpcCodeName(code: number): string {
  return grpcCodeNames.get(code) ?? `CODE_${code}`;
}

export function kindOfGrpcCode(code: number): CriErrorKind {
  switch (code) {
    case GrpcCode.NOT_FOUND:
      return 'notFound';
    case GrpcCode.UNAVAILABLE:
      return 'unavailable';
    case GrpcCode.DEADLINE_EXCEEDED:
      return 'deadline';
    case GrpcCode.INVALID_ARGUMENT:
      return 'invalid';
    case GrpcCode.UNIMPLEMENTED:
      return 'unimplemented';
    default:
      return 'other';
  }
}

export interface CriErrorOptions {
  /** RPC name as on the wire, e.g. "ContainerStatus". */
  readonly method: string;
  /** The id or reference the call was about, named in the message. */
  readonly target?: string;
  readonly grpcCode: number;
  /** The runtime's own text. */
  readonly details: string;
  /** Overrides the kind derived from grpcCode (e.g. a deadline hit while never connected is 'unavailable'). */
  readonly kind?: CriErrorKind;
  readonly cause?: unknown;
}

export class CriError extends NodeError {
  readonly kind: CriErrorKind;
  readonly grpcCode: number;
  readonly details: string;
  readonly method: string;
  readonly target: string | undefined;

  constructor(opts: CriErrorOptions) {
    const kind = opts.kind ?? kindOfGrpcCode(opts.grpcCode);
    const what = `cri ${describeMethod(opts.method)}${opts.target ? ` ${opts.target}` : ''}`;
    super(CRI_ERROR_CODES[kind], `${what}: ${grpcCodeName(opts.grpcCode).toLowerCase().replaceAll('_', ' ')}: ${opts.details}`, { cause: opts.cause });
    this.kind = kind;
    this.grpcCode = opts.grpcCode;
    this.details = opts.details;
    this.method = opts.method;
    this.target = opts.target;
  }
}

/** "RunPodSandbox" -> "run pod sandbox", for messages. */
export function describeMethod(method: string): string {
  return method.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

/** The shape of a grpc-js ServiceError, checked structurally so this module needs no gRPC import. */
interface GrpcStatusLike {
  readonly code: number;
  readonly details?: string;
  readonly message?: string;
}

function isGrpcStatusLike(err: unknown): err is GrpcStatusLike {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'number';
}

const NOT_INITIALIZED = /server is not initialized yet/;

/**
 * Any failure of a CRI call as a CriError. A CriError passes through; a gRPC status keeps its code
 * and details; anything else (a bug, a protobuf encoding error) becomes kind 'invalid' when it is
 * an encoding problem of our request, 'other' otherwise.
 */
export function toCriError(err: unknown, ctx: { method: string; target?: string }): CriError {
  if (err instanceof CriError) return err;
  if (isGrpcStatusLike(err)) {
    const details = err.details ?? err.message ?? '';
    // containerd answers UNKNOWN while its CRI service reloads state after a start: not ready yet.
    const kind = err.code === GrpcCode.UNKNOWN && NOT_INITIALIZED.test(details) ? 'unavailable' : undefined;
    return new CriError({ method: ctx.method, target: ctx.target, grpcCode: err.code, details, kind, cause: err });
  }
  const details = err instanceof Error ? err.message : String(err);
  const kind: CriErrorKind = err instanceof TypeError || err instanceof RangeError ? 'invalid' : 'other';
  return new CriError({ method: ctx.method, target: ctx.target, grpcCode: GrpcCode.UNKNOWN, details, kind, cause: err });
}

export function isCriError(err: unknown): err is CriError {
  return err instanceof CriError;
}

function hasKind(err: unknown, kind: CriErrorKind): boolean {
  return err instanceof CriError && err.kind === kind;
}

/** Unknown container, sandbox or image. */
export function isNotFound(err: unknown): boolean {
  return hasKind(err, 'notFound');
}

/** The runtime is not reachable (down, restarting, socket missing). Worth retrying later. */
export function isUnavailable(err: unknown): boolean {
  return hasKind(err, 'unavailable');
}

/** The call's deadline passed, or an ExecSync command ran past its timeout. */
export function isDeadline(err: unknown): boolean {
  return hasKind(err, 'deadline');
}

export function isInvalid(err: unknown): boolean {
  return hasKind(err, 'invalid');
}

export function isUnimplemented(err: unknown): boolean {
  return hasKind(err, 'unimplemented');
}

/** containerd's CRI service is up but still loading its state (just after a start); kind 'unavailable'. */
export function isNotInitialized(err: unknown): boolean {
  return err instanceof CriError && err.grpcCode === GrpcCode.UNKNOWN && NOT_INITIALIZED.test(err.details);
}

/**
 * The sandbox or container name (`<name>_<namespace>_<uid>_<attempt>` and the container form) is
 * already taken: containerd answers UNKNOWN "failed to reserve sandbox|container name ...".
 * The remedy is a new attempt number, or removing the leftover.
 */
export function isNameReserved(err: unknown): boolean {
  return err instanceof CriError && /failed to reserve (sandbox|container) name/.test(err.details);
}
