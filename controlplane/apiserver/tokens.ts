// The static token file: the only module that reads or writes it. Format as kube-apiserver's
// `--token-file`: one `token,user,uid,"group1,group2"` line per identity. The server re-reads the file
// when its modification time changes, so `moor server token create` takes effect without a restart.

import { randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, existsSync, appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { NodeError } from '../../common/errors.ts';

export interface UserInfo {
  readonly name: string;
  readonly uid: string;
  readonly groups: readonly string[];
}

export const ADMIN_USER = 'admin';
export const MASTERS_GROUP = 'system:masters';
export const NODES_GROUP = 'system:nodes';
export const NODE_USER_PREFIX = 'system:node:';

export function generateToken(): string {
  return randomBytes(24).toString('hex');
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') quoted = false; else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { out.push(cur); cur = ''; } else cur += c;
  }
  out.push(cur);
  return out.map((f) => f.trim());
}

export function parseTokenFile(text: string, path: string): Map<string, UserInfo> {
  const tokens = new Map<string, UserInfo>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const [token, name, uid, groups] = parseCsvLine(line);
    if (token === undefined || token === '' || name === undefined || name === '') {
      throw new NodeError('token-file-invalid', `parse token file ${path}: line ${i + 1}: needs at least token,user`);
    }
    tokens.set(token, { name, uid: uid ?? '', groups: groups === undefined || groups === '' ? [] : groups.split(',').map((g) => g.trim()).filter((g) => g !== '') });
  });
  return tokens;
}

function formatLine(token: string, user: UserInfo): string {
  return `${token},${user.name},${user.uid},"${user.groups.join(',')}"\n`;
}

/** Create the token file with one admin token if it does not exist; returns the admin token found or made. */
export function ensureTokenFile(path: string): string {
  if (existsSync(path)) {
    const tokens = parseTokenFile(readFileSync(path, 'utf8'), path);
    for (const [token, user] of tokens) if (user.groups.includes(MASTERS_GROUP)) return token;
    const token = generateToken();
    appendFileSync(path, formatLine(token, { name: ADMIN_USER, uid: ADMIN_USER, groups: [MASTERS_GROUP] }), { mode: 0o600 });
    return token;
  }
  mkdirSync(dirname(path), { recursive: true });
  const token = generateToken();
  writeFileSync(path, formatLine(token, { name: ADMIN_USER, uid: ADMIN_USER, groups: [MASTERS_GROUP] }), { mode: 0o600 });
  return token;
}

/** Mint a token for node `nodeName` (user `system:node:<name>`, group `system:nodes`); reuses an existing one. */
export function createNodeToken(path: string, nodeName: string): string {
  const name = `${NODE_USER_PREFIX}${nodeName}`;
  if (existsSync(path)) {
    for (const [token, user] of parseTokenFile(readFileSync(path, 'utf8'), path)) if (user.name === name) return token;
  }
  mkdirSync(dirname(path), { recursive: true });
  const token = generateToken();
  appendFileSync(path, formatLine(token, { name, uid: name, groups: [NODES_GROUP] }), { mode: 0o600 });
  return token;
}

/**
 * Looks tokens up. The file is re-checked (stat, re-read if its mtime changed) at most once a second,
 * and at most every 100 ms when a token is not found, so a freshly minted node token works at once.
 */
export class TokenAuthenticator {
  readonly #path: string;
  #tokens = new Map<string, UserInfo>();
  #mtimeMs = -1;
  #checkedAt = 0;

  constructor(path: string) {
    this.#path = path;
    this.#reload();
  }

  #reload(): void {
    const st = statSync(this.#path);
    if (st.mtimeMs === this.#mtimeMs) return;
    this.#tokens = parseTokenFile(readFileSync(this.#path, 'utf8'), this.#path);
    this.#mtimeMs = st.mtimeMs;
  }

  authenticate(token: string): UserInfo | undefined {
    const now = Date.now();
    const known = this.#tokens.get(token);
    if (now - this.#checkedAt > (known === undefined ? 100 : 1000)) {
      this.#checkedAt = now;
      try {
        this.#reload();
      } catch (err) {
        // Keep the last good table: a half-written or briefly missing file must not lock everyone out.
        void err;
      }
    }
    return this.#tokens.get(token);
  }
}
