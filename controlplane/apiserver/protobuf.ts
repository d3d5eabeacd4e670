// Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`, contract §1): the magic
// "k8s\0", then a runtime.Unknown whose raw bytes are the object's message. Decoded into the JSON
// object shape with the schema; kinds without a schema are a 415 as upstream would answer.

import { badRequest, unsupportedMediaType } from './errors.ts';
import { decodeMessage, decodeUnknown, messageTypeOf } from './schema.ts';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export function decodeProtobufBody(raw: Buffer): Record<string, unknown> {
  if (raw.length < 4 || !raw.subarray(0, 4).equals(MAGIC)) throw badRequest('protobuf body does not start with the k8s magic bytes');
  let envelope;
  try {
    envelope = decodeUnknown(raw.subarray(4));
  } catch (err) {
    throw badRequest(`decode protobuf envelope: ${err instanceof Error ? err.message : String(err)}`);
  }
  const t = messageTypeOf(envelope.apiVersion, envelope.kind);
  if (t === undefined) throw unsupportedMediaType(PROTOBUF_CONTENT_TYPE, ['application/json']);
  let obj: Record<string, unknown>;
  try {
    obj = decodeMessage(t, envelope.raw);
  } catch (err) {
    throw badRequest(`decode protobuf ${envelope.kind}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (envelope.kind !== 'DeleteOptions') {
    obj.apiVersion = envelope.apiVersion;
    obj.kind = envelope.kind;
  }
  return obj;
}

/** Build a protobuf body (tests and benchmarks speak it like kubectl does). */
export function encodeProtobufBody(opts: { apiVersion: string; kind: string; message: Uint8Array; encodeUnknown: (v: Record<string, unknown>) => Uint8Array }): Buffer {
  const unknown = opts.encodeUnknown({ typeMeta: { apiVersion: opts.apiVersion, kind: opts.kind }, raw: opts.message, contentEncoding: '', contentType: '' });
  return Buffer.concat([MAGIC, unknown]);
}
