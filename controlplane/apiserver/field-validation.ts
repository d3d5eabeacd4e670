// fieldValidation support: which fields of a JSON body the server does not know. Filled in from the
// API schema (proto/k8s); until a kind has a schema its bodies are accepted as they are.

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Paths of unknown fields, as `spec.replica` or `spec.template.spec.containers[0].foo`. */
export function checkUnknownFields(kind: string, body: unknown): string[] {
  void kind;
  void body;
  return [];
}
