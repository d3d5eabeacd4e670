// fieldValidation, pure over the schema: which fields of a JSON body the API types do not have.
// Strict turns them into a 400, Warn into `Warning: 299` headers, Ignore skips the check (contract §4).
// Duplicate JSON keys are not detected (JSON.parse keeps the last one).

import { messageTypeOf, unknownFields } from './schema.ts';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Paths of unknown fields, as `spec.replica` or `spec.template.spec.containers[0].foo`. */
export function checkUnknownFields(apiVersion: string, kind: string, body: unknown): string[] {
  const t = messageTypeOf(apiVersion, kind);
  return t === undefined ? [] : unknownFields(t, body);
}
