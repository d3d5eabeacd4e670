// The relist's view of ListPodSandbox and ListContainers: for each item only its id, its state and
// the value of one label (the pod UID), read straight from the protobuf bytes. The relist runs
// every second over every pod on the node; decoding whole items (metadata, image, created_at, every
// label and annotation into objects, then converting enums and int64 strings) was most of the
// agent's CPU at steady state. Everything else is skipped by its wire type, so fields added to the
// messages upstream are skipped too.
//
// Field numbers (runtime.v1, proto/runtime/v1/api.proto):
//   ListPodSandboxResponse { repeated PodSandbox items = 1 }
//   PodSandbox            { string id = 1; PodSandboxState state = 3; map<string,string> labels = 5 }
//   ListContainersResponse { repeated Container containers = 1 }
//   Container             { string id = 1; ContainerState state = 6; map<string,string> labels = 8 }
//   map entry             { string key = 1; string value = 2 }

import type { ContainerState, ListedState, PodSandboxState } from './types.ts';

const SANDBOX_STATES: readonly PodSandboxState[] = ['ready', 'notready'];
const CONTAINER_STATES: readonly ContainerState[] = ['created', 'running', 'exited', 'unknown'];

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** A protobuf that does not parse: truncated, or a wire type this reader does not know. */
export class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
}

class Reader {
  pos: number;
  constructor(readonly buf: Uint8Array, start: number, readonly end: number) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new WireFormatError('truncated varint');
      const b = this.buf[this.pos++];
      // Past 2^53 precision is lost, which only matters for values this reader ignores.
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new WireFormatError('varint longer than 10 bytes');
    }
  }

  /** The [start, end) of a length-delimited field's bytes; the reader moves past them. */
  bytes(): [number, number] {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new WireFormatError(`field of ${len} bytes runs past its message`);
    this.pos = start + len;
    return [start, this.pos];
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT: this.varint(); return;
      case WIRE_I64: this.pos += 8; break;
      case WIRE_LEN: this.bytes(); return;
      case WIRE_I32: this.pos += 4; break;
      default: throw new WireFormatError(`wire type ${wireType} not supported`);
    }
    if (this.pos > this.end) throw new WireFormatError('truncated fixed-width field');
  }
}

interface ItemFields {
  readonly id: number;
  readonly state: number;
  readonly labels: number;
}

const SANDBOX_FIELDS: ItemFields = { id: 1, state: 3, labels: 5 };
const CONTAINER_FIELDS: ItemFields = { id: 1, state: 6, labels: 8 };

function sameBytes(buf: Uint8Array, start: number, end: number, want: Uint8Array): boolean {
  if (end - start !== want.length) return false;
  for (let i = 0; i < want.length; i++) if (buf[start + i] !== want[i]) return false;
  return true;
}

/** The value of the map entry at [start, end) when its key is `key`, else undefined. */
function entryValue(buf: Buffer, start: number, end: number, key: Uint8Array): string | undefined {
  const r = new Reader(buf, start, end);
  let keyMatches = false;
  let value: [number, number] | undefined;
  while (r.pos < end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === 1 && wireType === WIRE_LEN) {
      const [s, e] = r.bytes();
      keyMatches = sameBytes(buf, s, e, key);
    } else if (field === 2 && wireType === WIRE_LEN) value = r.bytes();
    else r.skip(wireType);
  }
  if (!keyMatches) return undefined;
  return value === undefined ? '' : buf.toString('utf8', value[0], value[1]);
}

function decodeItem<S extends string>(buf: Buffer, start: number, end: number, fields: ItemFields, states: readonly S[], key: Uint8Array): ListedState<S> {
  const r = new Reader(buf, start, end);
  let id = '';
  let state = 0;
  let label: string | undefined;
  while (r.pos < end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (field === fields.id && wireType === WIRE_LEN) {
      const [s, e] = r.bytes();
      id = buf.toString('latin1', s, e); // ids are hex
    } else if (field === fields.state && wireType === WIRE_VARINT) state = r.varint();
    else if (field === fields.labels && wireType === WIRE_LEN && label === undefined) {
      const [s, e] = r.bytes();
      label = entryValue(buf, s, e, key);
    } else r.skip(wireType);
  }
  // An enum value this reader does not know (a newer runtime) reads as the last, "unknown"-like state.
  const named = states[state] ?? states[states.length - 1];
  return label === undefined ? { id, state: named } : { id, state: named, label };
}

function decodeList<S extends string>(buf: Buffer, fields: ItemFields, states: readonly S[], label: string): ListedState<S>[] {
  const key = Buffer.from(label, 'utf8');
  const out: ListedState<S>[] = [];
  const r = new Reader(buf, 0, buf.length);
  while (r.pos < buf.length) {
    const tag = r.varint();
    if (tag === (1 << 3 | WIRE_LEN)) {
      const [s, e] = r.bytes();
      out.push(decodeItem(buf, s, e, fields, states, key));
    } else r.skip(tag & 7);
  }
  return out;
}

/** A ListPodSandboxResponse's items: id, state, and the value of `label` (absent when unlabelled). */
export function decodeSandboxStates(buf: Buffer, label: string): ListedState<PodSandboxState>[] {
  return decodeList(buf, SANDBOX_FIELDS, SANDBOX_STATES, label);
}

/** A ListContainersResponse's containers: id, state, and the value of `label`. */
export function decodeContainerStates(buf: Buffer, label: string): ListedState<ContainerState>[] {
  return decodeList(buf, CONTAINER_FIELDS, CONTAINER_STATES, label);
}
