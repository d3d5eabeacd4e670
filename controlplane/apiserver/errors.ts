// API errors as Kubernetes `Status` bodies: one ApiError class carries the HTTP code, the reason kubectl
// prints (`Error from server (<reason>): <message>`) and optional details. Constructors below follow the
// message conventions of the real API server so kubectl output reads the same.

import { NodeError } from '../../common/errors.ts';

export type StatusReason =
  | 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Gone' | 'Expired'
  | 'Invalid' | 'MethodNotAllowed' | 'NotAcceptable' | 'UnsupportedMediaType' | 'TooManyRequests'
  | 'InternalError' | 'ServiceUnavailable' | 'Timeout';

export interface StatusCause {
  readonly reason?: string;
  readonly message?: string;
  readonly field?: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export class ApiError extends NodeError {
  readonly httpCode: number;
  readonly reason: StatusReason;
  readonly details: StatusDetails | undefined;

  constructor(opts: { httpCode: number; reason: StatusReason; message: string; details?: StatusDetails; cause?: unknown }) {
    super(`api-${opts.reason}`, opts.message, { cause: opts.cause });
    this.httpCode = opts.httpCode;
    this.reason = opts.reason;
    this.details = opts.details;
  }

  toStatus(): StatusBody {
    return buildFailureStatus(this.httpCode, this.reason, this.message, this.details);
  }
}

export function buildFailureStatus(code: number, reason: string, message: string, details?: StatusDetails): StatusBody {
  const body: StatusBody = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details !== undefined) body.details = details;
  return body;
}

export function buildSuccessStatus(details?: StatusDetails): StatusBody {
  const body: StatusBody = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 };
  if (details !== undefined) body.details = details;
  return body;
}

/** `pods`, `deployments.apps`: how the real server names a resource in messages. */
export interface QualifiedResource {
  readonly group: string;
  readonly resource: string;
}

export function qualifiedName(gr: QualifiedResource): string {
  return gr.group === '' ? gr.resource : `${gr.resource}.${gr.group}`;
}

export function notFound(gr: QualifiedResource, name: string): ApiError {
  return new ApiError({ httpCode: 404, reason: 'NotFound', message: `${qualifiedName(gr)} "${name}" not found`, details: { name, group: gr.group || undefined, kind: gr.resource } });
}

export function pathNotFound(): ApiError {
  return new ApiError({ httpCode: 404, reason: 'NotFound', message: 'the server could not find the requested resource', details: {} });
}

export function alreadyExists(gr: QualifiedResource, name: string): ApiError {
  return new ApiError({ httpCode: 409, reason: 'AlreadyExists', message: `${qualifiedName(gr)} "${name}" already exists`, details: { name, group: gr.group || undefined, kind: gr.resource } });
}

export function conflict(gr: QualifiedResource, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): ApiError {
  return new ApiError({ httpCode: 409, reason: 'Conflict', message: `Operation cannot be fulfilled on ${qualifiedName(gr)} "${name}": ${why}`, details: { name, group: gr.group || undefined, kind: gr.resource } });
}

export function badRequest(message: string): ApiError {
  return new ApiError({ httpCode: 400, reason: 'BadRequest', message });
}

export function methodNotAllowed(message = 'the server does not allow this method on the requested resource'): ApiError {
  return new ApiError({ httpCode: 405, reason: 'MethodNotAllowed', message, details: {} });
}

export function unsupportedMediaType(contentType: string, accepted: readonly string[]): ApiError {
  return new ApiError({ httpCode: 415, reason: 'UnsupportedMediaType', message: `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}` + (contentType === '' ? '' : ` (got ${contentType})`) });
}

export function unauthorized(): ApiError {
  return new ApiError({ httpCode: 401, reason: 'Unauthorized', message: 'Unauthorized' });
}

export function forbidden(message: string, details?: StatusDetails): ApiError {
  return new ApiError({ httpCode: 403, reason: 'Forbidden', message, details });
}

export function expired(message: string): ApiError {
  return new ApiError({ httpCode: 410, reason: 'Expired', message });
}

export function internalError(message: string, cause?: unknown): ApiError {
  return new ApiError({ httpCode: 500, reason: 'InternalError', message: `Internal error occurred: ${message}`, cause });
}

export function tooManyRequests(message: string): ApiError {
  return new ApiError({ httpCode: 429, reason: 'TooManyRequests', message });
}

/** One invalid field, as `spec.containers[0].image: Required value`. */
export interface FieldError {
  readonly field: string;
  readonly type: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueDuplicate' | 'FieldValueForbidden' | 'FieldValueTooLong';
  readonly detail: string;
  readonly value?: unknown;
}

function describeFieldError(e: FieldError): string {
  switch (e.type) {
    case 'FieldValueRequired': return `${e.field}: Required value${e.detail === '' ? '' : `: ${e.detail}`}`;
    case 'FieldValueDuplicate': return `${e.field}: Duplicate value: ${JSON.stringify(e.value)}`;
    case 'FieldValueForbidden': return `${e.field}: Forbidden: ${e.detail}`;
    case 'FieldValueTooLong': return `${e.field}: Too long: ${e.detail}`;
    case 'FieldValueNotSupported': return `${e.field}: Unsupported value: ${JSON.stringify(e.value)}${e.detail === '' ? '' : `: ${e.detail}`}`;
    case 'FieldValueInvalid': return `${e.field}: Invalid value: ${JSON.stringify(e.value)}: ${e.detail}`;
  }
}

/** 422 `Deployment.apps "x" is invalid: spec.x: Required value`; several errors are listed in brackets. */
export function invalid(opts: { kind: string; group: string; name: string; errors: readonly FieldError[] }): ApiError {
  const qualifiedKind = opts.group === '' ? opts.kind : `${opts.kind}.${opts.group}`;
  const parts = opts.errors.map(describeFieldError);
  const list = parts.length === 1 ? parts[0] : `[${parts.join(', ')}]`;
  return new ApiError({
    httpCode: 422,
    reason: 'Invalid',
    message: `${qualifiedKind} "${opts.name}" is invalid: ${list}`,
    details: {
      name: opts.name, group: opts.group || undefined, kind: opts.kind,
      causes: opts.errors.map((e) => ({ reason: e.type, message: describeFieldError(e).slice(e.field.length + 2), field: e.field })),
    },
  });
}

export function isApiError(err: unknown): err is ApiError {
  return err instanceof ApiError;
}
