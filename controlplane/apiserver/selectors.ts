// Label and field selectors, pure: parse the query-string forms kubectl sends (`app=web,tier!=db`,
// `env in (a,b)`, `!canary`; `spec.nodeName=n1,status.phase!=Failed`) and match objects against them.
// Field selectors support only the fields each resource declares; others are a 400 as upstream.

import { badRequest } from './errors.ts';

export type LabelRequirement =
  | { readonly op: 'eq' | 'neq'; readonly key: string; readonly value: string }
  | { readonly op: 'in' | 'notin'; readonly key: string; readonly values: readonly string[] }
  | { readonly op: 'exists' | 'notexists'; readonly key: string };

export type LabelSelector = readonly LabelRequirement[];

const KEY_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function checkKey(key: string, text: string): void {
  if (!KEY_RE.test(key)) throw badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${text}"`);
}

function checkValue(value: string, text: string): void {
  if (!VALUE_RE.test(value) || value.length > 63) throw badRequest(`unable to parse requirement: invalid label value "${value}" in selector "${text}"`);
}

/** Split on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

export function parseLabelSelector(text: string | undefined): LabelSelector {
  if (text === undefined || text.trim() === '') return [];
  const out: LabelRequirement[] = [];
  for (const part of splitTopLevel(text)) {
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/)) !== null) {
      const key = m[1];
      checkKey(key, text);
      const values = m[3].split(',').map((v) => v.trim()).filter((v) => v !== '');
      values.forEach((v) => checkValue(v, text));
      out.push({ op: m[2] as 'in' | 'notin', key, values });
    } else if ((m = part.match(/^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/)) !== null) {
      checkKey(m[1], text);
      checkValue(m[3], text);
      out.push({ op: m[2] === '!=' ? 'neq' : 'eq', key: m[1], value: m[3] });
    } else if ((m = part.match(/^!\s*(\S+)$/)) !== null) {
      checkKey(m[1], text);
      out.push({ op: 'notexists', key: m[1] });
    } else if (/^\S+$/.test(part)) {
      checkKey(part, text);
      out.push({ op: 'exists', key: part });
    } else {
      throw badRequest(`unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }
  return out;
}

export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  return selector.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'eq': return has && l[r.key] === r.value;
      case 'neq': return !has || l[r.key] !== r.value;
      case 'in': return has && r.values.includes(l[r.key]);
      case 'notin': return !has || !r.values.includes(l[r.key]);
      case 'exists': return has;
      case 'notexists': return !has;
    }
  });
}

/** A `metav1.LabelSelector` object (matchLabels + matchExpressions) as requirements. */
export function labelSelectorFromObject(sel: unknown): LabelSelector | undefined {
  if (sel === null || typeof sel !== 'object') return undefined;
  const s = sel as { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  const out: LabelRequirement[] = [];
  for (const [key, value] of Object.entries(s.matchLabels ?? {})) out.push({ op: 'eq', key, value });
  for (const e of s.matchExpressions ?? []) {
    switch (e.operator) {
      case 'In': out.push({ op: 'in', key: e.key, values: e.values ?? [] }); break;
      case 'NotIn': out.push({ op: 'notin', key: e.key, values: e.values ?? [] }); break;
      case 'Exists': out.push({ op: 'exists', key: e.key }); break;
      case 'DoesNotExist': out.push({ op: 'notexists', key: e.key }); break;
      default: return undefined;
    }
  }
  return out;
}

/** `app=web,tier in (a,b)`: the text form kubectl prints in wide output. */
export function formatLabelSelector(sel: LabelSelector): string {
  if (sel.length === 0) return '<none>';
  return sel.map((r) => {
    switch (r.op) {
      case 'eq': return `${r.key}=${r.value}`;
      case 'neq': return `${r.key}!=${r.value}`;
      case 'in': return `${r.key} in (${[...r.values].sort().join(',')})`;
      case 'notin': return `${r.key} notin (${[...r.values].sort().join(',')})`;
      case 'exists': return r.key;
      case 'notexists': return `!${r.key}`;
    }
  }).join(',');
}

export interface FieldRequirement {
  readonly field: string;
  readonly op: 'eq' | 'neq';
  readonly value: string;
}

export type FieldSelector = readonly FieldRequirement[];

/** Parse and check the fields against those the resource supports (`metadata.name`, `metadata.namespace` always). */
export function parseFieldSelector(text: string | undefined, supported: readonly string[]): FieldSelector {
  if (text === undefined || text.trim() === '') return [];
  const out: FieldRequirement[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = part.match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
    if (m === null) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = m[1];
    if (field !== 'metadata.name' && field !== 'metadata.namespace' && !supported.includes(field)) {
      throw badRequest(`field label not supported: ${field}`);
    }
    out.push({ field, op: m[2] === '!=' ? 'neq' : 'eq', value: m[3] });
  }
  return out;
}

export function matchesFields(selector: FieldSelector, fields: Readonly<Record<string, string>>): boolean {
  return selector.every((r) => {
    const v = fields[r.field] ?? '';
    return r.op === 'eq' ? v === r.value : v !== r.value;
  });
}

/** If the selector pins `metadata.name`, that name (lets GET-like watches skip the rest). */
export function pinnedName(selector: FieldSelector): string | undefined {
  return selector.find((r) => r.field === 'metadata.name' && r.op === 'eq')?.value;
}
