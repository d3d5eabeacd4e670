// Errors of the API client: one class, ApiClientError, with a kind derived from the HTTP status and
// the Status body's reason (the client's only error mapping), plus named predicates so callers write
// `if (!isNotFound(err)) throw err;`. Transport failures (refused, reset, timed out) are `unavailable`
// or `timeout`.

import { NodeError } from '../../common/errors.ts';
import { isApiStatus, type ApiStatus } from './types.ts';

export type ApiErrorKind =
  | 'notFound' | 'alreadyExists' | 'conflict' | 'expired' | 'invalid' | 'badRequest' | 'unauthorized'
  | 'forbidden' | 'tooManyRequests' | 'unavailable' | 'timeout' | 'internal' | 'other';

/** Stable codes, one per kind (never reuse a retired one). */
const CODES: Record<ApiErrorKind, string> = {
  notFound: 'api-not-found', alreadyExists: 'api-already-exists', conflict: 'api-conflict', expired: 'api-expired',
  invalid: 'api-invalid', badRequest: 'api-bad-request', unauthorized: 'api-unauthorized', forbidden: 'api-forbidden',
  tooManyRequests: 'api-too-many-requests', unavailable: 'api-unavailable', timeout: 'api-timeout', internal: 'api-internal', other: 'api-other',
};

export class ApiClientError extends NodeError {
  readonly kind: ApiErrorKind;
  /** HTTP status; 0 for transport failures. */
  readonly status: number;
  readonly reason: string;
  readonly apiStatus?: ApiStatus;

  constructor(opts: { kind: ApiErrorKind; status: number; reason?: string; message: string; apiStatus?: ApiStatus; cause?: unknown }) {
    super(CODES[opts.kind], opts.message, { cause: opts.cause });
    this.kind = opts.kind;
    this.status = opts.status;
    this.reason = opts.reason ?? '';
    this.apiStatus = opts.apiStatus;
  }
}

/** Kind for an HTTP status and Status reason, as client-go's errors package reads them. */
export function kindOf(status: number, reason: string): ApiErrorKind {
  switch (reason) {
    case 'NotFound': return 'notFound';
    case 'AlreadyExists': return 'alreadyExists';
    case 'Conflict': return 'conflict';
    case 'Expired': case 'Gone': return 'expired';
    case 'Invalid': return 'invalid';
    case 'BadRequest': return 'badRequest';
    case 'Unauthorized': return 'unauthorized';
    case 'Forbidden': return 'forbidden';
    case 'TooManyRequests': return 'tooManyRequests';
    case 'ServiceUnavailable': return 'unavailable';
    case 'Timeout': return 'timeout';
    case 'InternalError': return 'internal';
    default: break;
  }
  switch (status) {
    case 400: return 'badRequest';
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'notFound';
    case 409: return 'conflict';
    case 410: return 'expired';
    case 422: return 'invalid';
    case 429: return 'tooManyRequests';
    case 503: return 'unavailable';
    case 504: return 'timeout';
    default: return status >= 500 ? 'internal' : 'other';
  }
}

/** Build the error for a non-2xx reply: `<method> <path>: <server message>`. */
export function errorFromResponse(opts: { method: string; path: string; status: number; body: unknown; text: string }): ApiClientError {
  const st = isApiStatus(opts.body) ? opts.body : undefined;
  const reason = st?.reason ?? '';
  const detail = st?.message ?? (opts.text.trim() === '' ? `HTTP ${opts.status}` : opts.text.trim().slice(0, 500));
  return new ApiClientError({ kind: kindOf(opts.status, reason), status: opts.status, reason, message: `${opts.method.toLowerCase()} ${opts.path}: ${detail}`, apiStatus: st });
}

/** The error an ERROR watch event carries (410 Expired when the resourceVersion is too old). */
export function errorFromWatchStatus(path: string, status: unknown): ApiClientError {
  const st = isApiStatus(status) ? status : undefined;
  const code = typeof st?.code === 'number' ? st.code : 500;
  return new ApiClientError({ kind: kindOf(code, st?.reason ?? ''), status: code, reason: st?.reason, message: `watch ${path}: ${st?.message ?? 'error event'}`, apiStatus: st });
}

function is(kind: ApiErrorKind): (err: unknown) => boolean {
  return (err) => err instanceof ApiClientError && err.kind === kind;
}

export const isNotFound = is('notFound');
export const isAlreadyExists = is('alreadyExists');
export const isConflict = is('conflict');
export const isExpired = is('expired');
export const isInvalid = is('invalid');
export const isForbidden = is('forbidden');
export const isUnavailable = is('unavailable');

/** Worth retrying later as is: transport trouble, overload, server-side failures. */
export function isRetryable(err: unknown): boolean {
  return err instanceof ApiClientError && (['unavailable', 'timeout', 'tooManyRequests', 'internal', 'conflict'] as ApiErrorKind[]).includes(err.kind);
}
