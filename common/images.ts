// The images Moor builds from Debian packages and serves from its local registry
// (scripts/images.sh). MOOR_IMAGE_REPO moves them, e.g. to an address other nodes can reach.

const repo = process.env.MOOR_IMAGE_REPO ?? '127.0.0.1:5000/moor';

export const IMAGES = {
  pause: `${repo}/pause:1.0`,
  busybox: `${repo}/busybox:1.0`,
  busyboxV2: `${repo}/busybox:2.0`,
} as const;

/** host:port of the registry serving IMAGES. */
export const IMAGE_REGISTRY = repo.split('/')[0];
