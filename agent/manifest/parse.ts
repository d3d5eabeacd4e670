// Reads the pods of one manifest file: YAML or JSON text, one or several documents (`---`), each a
// v1 Pod or a v1 List/PodList of pods; then gives each pod its static-pod identity on this node
// (the kubelet's rules: name suffixed with the node name, UID derived from the content, the file
// and the node unless the manifest sets one, nodeName set). Pure: text in, pods and problems out.

import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { stableJson } from '../pod/labels.ts';
import type { Pod } from '../pod/types.ts';
import { decodePod } from './decode.ts';

export const ANNOTATION_CONFIG_SOURCE = 'kubernetes.io/config.source';
export const ANNOTATION_CONFIG_HASH = 'kubernetes.io/config.hash';
/** Moor's: the manifest file a static pod came from. */
export const ANNOTATION_MANIFEST_PATH = 'io.moor.manifest.path';

export interface ManifestProblem {
  /** 1-based document number within the file (0 when the whole file is unreadable). */
  readonly document: number;
  readonly errors: readonly string[];
}

export interface ParsedManifest {
  readonly pods: readonly Pod[];
  readonly problems: readonly ManifestProblem[];
}

/** Split text into documents; a YAML syntax error makes the whole file a problem. */
export function parseDocuments(text: string): { docs: unknown[]; error?: string } {
  // JSON is YAML too, but JSON.parse reads one JSON document many times faster.
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    try {
      return { docs: [JSON.parse(text) as unknown] };
    } catch {
      // Not one JSON document (several, or YAML flow style): the YAML parser decides.
    }
  }
  const docs = parseAllDocuments(text, { prettyErrors: false });
  if (!Array.isArray(docs)) return { docs: [], error: 'parse manifest: empty' };
  const out: unknown[] = [];
  for (const [i, d] of docs.entries()) {
    if (d.errors.length > 0) return { docs: [], error: `parse document ${i + 1}: ${d.errors[0].message.split('\n')[0]}` };
    const value: unknown = d.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue; // an empty document (e.g. a trailing ---)
    out.push(value);
  }
  return { docs: out };
}

/** Expand v1 List / PodList documents into their items. */
function expandLists(docs: readonly unknown[]): unknown[] {
  return docs.flatMap((d) => {
    if (typeof d === 'object' && d !== null && !Array.isArray(d)) {
      const o = d as Record<string, unknown>;
      if ((o.kind === 'List' || o.kind === 'PodList') && Array.isArray(o.items)) return o.items;
    }
    return [d];
  });
}

export function staticPodName(name: string, nodeName: string): string {
  return `${name}-${nodeName}`;
}

/** The kubelet's static pod UID: a digest of the pod, the node and the file, unless the manifest sets one. */
export function staticPodUid(pod: Pod, nodeName: string, path: string): string {
  return createHash('md5').update(stableJson(pod)).update(`host:${nodeName}`).update(`file:${path}`).digest('hex');
}

export function applyStaticPodIdentity(pod: Pod, opts: { nodeName: string; path: string }): Pod {
  const uid = pod.metadata.uid !== '' ? pod.metadata.uid : staticPodUid(pod, opts.nodeName, opts.path);
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      name: staticPodName(pod.metadata.name, opts.nodeName),
      uid,
      annotations: {
        ...(pod.metadata.annotations ?? {}),
        [ANNOTATION_CONFIG_SOURCE]: 'file',
        [ANNOTATION_CONFIG_HASH]: uid,
        [ANNOTATION_MANIFEST_PATH]: opts.path,
      },
    },
    spec: { ...pod.spec, nodeName: opts.nodeName },
  };
}

export function parseManifest(text: string, opts: { nodeName: string; path: string }): ParsedManifest {
  const { docs, error } = parseDocuments(text);
  if (error !== undefined) return { pods: [], problems: [{ document: 0, errors: [error] }] };
  const pods: Pod[] = [];
  const problems: ManifestProblem[] = [];
  expandLists(docs).forEach((doc, i) => {
    const r = decodePod(doc);
    if (r.pod === undefined) {
      problems.push({ document: i + 1, errors: r.errors });
      return;
    }
    const named = applyStaticPodIdentity(r.pod, opts);
    if (named.metadata.name.length > 253) {
      problems.push({ document: i + 1, errors: [`metadata.name: Invalid value: ${JSON.stringify(named.metadata.name)}: must be no more than 253 characters with the node name appended`] });
      return;
    }
    pods.push(named);
  });
  return { pods, problems };
}
