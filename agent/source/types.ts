// A pod source hands the agent the complete set of pods it wants, every time it changes (set
// semantics: a pod missing from an update is to be terminated). Standalone mode has one source, the
// manifest directory; the control plane becomes another source later.

import type { Pod } from '../pod/types.ts';

export interface ManifestStatus {
  readonly path: string;
  /** Pods the file defines, as "<namespace>/<name>" (after the node-name suffix). */
  readonly pods: readonly string[];
  /** One entry per document that failed, with the API-style field errors. */
  readonly problems: readonly { readonly document: number; readonly errors: readonly string[] }[];
}

export interface PodSourceUpdate {
  readonly pods: readonly Pod[];
  readonly manifests: readonly ManifestStatus[];
}

export interface PodSource {
  /** Resolves once the first full set was delivered through onUpdate. */
  start(onUpdate: (update: PodSourceUpdate) => void): Promise<void>;
  stop(): Promise<void>;
}
