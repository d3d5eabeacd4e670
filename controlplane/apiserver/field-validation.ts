// fieldValidation, pure over the schema: which fields of a JSON body the API types do not have, and
// which keys a JSON text repeats. Strict turns either into a 400, Warn into `Warning: 299` headers,
// Ignore skips the checks (contract §4).

import { messageTypeOf, unknownFields } from './schema.ts';

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** Paths of unknown fields, as `spec.replica` or `spec.template.spec.containers[0].foo`. */
export function checkUnknownFields(apiVersion: string, kind: string, body: unknown): string[] {
  const t = messageTypeOf(apiVersion, kind);
  return t === undefined ? [] : unknownFields(t, body);
}

interface Frame {
  readonly kind: 'object' | 'array';
  readonly path: string;
  readonly keys: Set<string>;
  index: number;
  /** Object: the key whose value comes next. */
  key?: string;
}

function childPath(f: Frame | undefined): string {
  if (f === undefined) return '';
  if (f.kind === 'array') return `${f.path}[${f.index}]`;
  return f.path === '' ? f.key ?? '' : `${f.path}.${f.key ?? ''}`;
}

/**
 * Paths of keys that appear twice in one object of a JSON text (JSON.parse silently keeps the last).
 * Assumes the text already parsed as JSON.
 */
export function findDuplicateKeys(text: string): string[] {
  const dups: string[] = [];
  const stack: Frame[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\') { s += text.slice(j, j + 2); j += 2; } else { s += text[j]; j++; }
      }
      const top = stack[stack.length - 1];
      if (expectKey && top !== undefined && top.kind === 'object') {
        const key = s.includes('\\') ? (JSON.parse(`"${s}"`) as string) : s;
        if (top.keys.has(key)) dups.push(top.path === '' ? key : `${top.path}.${key}`);
        top.keys.add(key);
        top.key = key;
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      const parent = stack[stack.length - 1];
      stack.push({ kind: c === '{' ? 'object' : 'array', path: childPath(parent), keys: new Set(), index: 0 });
      expectKey = c === '{';
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top?.kind === 'array') top.index++;
      else expectKey = true;
    }
  }
  return dups;
}
