// Key and value rules shared by every Store implementation: keys are printable ASCII (so JavaScript
// string order, SQLite's BINARY collation and etcd's byte order agree), values are UTF-8 (JSON text;
// the SQLite store reads them back in bulk as text), and a prefix names the half-open key range
// [prefix, prefixEnd(prefix)). Pure functions only.

import { isUtf8 } from 'node:buffer';

const KEY_PATTERN = /^[\x21-\x7e]+$/;
const PREFIX_PATTERN = /^[\x21-\x7e]*$/;

/** Throws a TypeError (a caller bug, not a store failure) for a key the store cannot hold. */
export function assertKey(key: string): void {
  if (!KEY_PATTERN.test(key)) throw new TypeError(`store key ${JSON.stringify(key)}: must be non-empty printable ascii`);
}

/** Throws a TypeError for a value that is not UTF-8. */
export function assertValue(key: string, value: Uint8Array): void {
  if (!isUtf8(value)) throw new TypeError(`store value for ${key}: must be utf-8 text`);
}

export function assertPrefix(prefix: string): void {
  if (!PREFIX_PATTERN.test(prefix)) throw new TypeError(`store prefix ${JSON.stringify(prefix)}: must be printable ascii`);
}

/**
 * The smallest key greater than every key starting with `prefix`, or undefined when there is none
 * (the empty prefix covers the whole key space). Same rule as etcd's range_end for prefixes.
 */
export function prefixEnd(prefix: string): string | undefined {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const code = prefix.charCodeAt(i);
    if (code < 0x7f) return prefix.slice(0, i) + String.fromCharCode(code + 1);
  }
  return undefined;
}

export function hasPrefix(key: string, prefix: string): boolean {
  return key.startsWith(prefix);
}
