// Shared by the CRI integration tests: why a test must be skipped here, and a client per rig.
import { IMAGE_REGISTRY } from '../../../common/images.ts';

/** A reason to skip, or false: containerd needs root, PullImage needs the local registry. */
export async function criSkipReason(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root (runs an isolated containerd)';
  const registryUp = await fetch(`http://${IMAGE_REGISTRY}/v2/`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false);
  if (!registryUp) return `needs the local registry on ${IMAGE_REGISTRY} (bash scripts/images.sh starts it)`;
  return false;
}
