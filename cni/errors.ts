// CniError: a failure with the numeric code the CNI specification defines (1-11, 50-51) or one of
// ours (100+), printed by main.ts as the spec's error object. toCniError() turns anything else into
// code 999 with its message. This file is the registry of our codes: never reuse a retired one.

import { NodeError, CommandError, errorMessage } from '../common/errors.ts';

export const CNI_CODES = {
  // the specification's codes
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  notAvailable: 50,
  notAvailableImpaired: 51,
  // Moor's own
  linkFailed: 100,
  addressExhausted: 101,
  ipamStore: 102,
  addressConflict: 103,
  firewallFailed: 104,
  delegateFailed: 105,
  checkFailed: 106,
  interfaceExists: 107,
  commandTimeout: 108,
  gcIncomplete: 109,
  unknown: 999,
} as const;

export type CniCodeName = keyof typeof CNI_CODES;

export class CniError extends NodeError {
  readonly cniCode: number;
  readonly details: string;

  constructor(kind: CniCodeName, message: string, options?: { details?: string; cause?: unknown }) {
    super(`cni-${kind}`, message, { cause: options?.cause });
    this.cniCode = CNI_CODES[kind];
    this.details = options?.details ?? '';
  }

  /** An error object received from a delegated plugin, passed on with its own code. */
  static fromDelegate(code: number, message: string, details?: string): CniError {
    const err = new CniError('delegateFailed', message, { details });
    (err as { cniCode: number }).cniCode = code;
    return err;
  }
}

export function isCniError(err: unknown): err is CniError {
  return err instanceof CniError;
}

/** The error as the plugin reports it: a CniError passes through, anything else becomes code 999. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof CommandError) {
    return new CniError('unknown', err.message, { details: err.stderr.trim(), cause: err });
  }
  return new CniError('unknown', errorMessage(err), { cause: err });
}

/** The spec's error object (with cniVersion when the request named one). */
export function formatCniError(err: CniError, cniVersion?: string): string {
  const body: Record<string, unknown> = {};
  if (cniVersion !== undefined) body.cniVersion = cniVersion;
  body.code = err.cniCode;
  body.msg = err.message;
  if (err.details !== '') body.details = err.details;
  return JSON.stringify(body);
}
