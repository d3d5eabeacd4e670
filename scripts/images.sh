#!/usr/bin/env bash
# Builds Moor's images from Debian packages and pushes them to the local registry (started if
# needed), so that CRI PullImage is exercised for real without internet:
#   $MOOR_IMAGE_REPO/pause:1.0     the static pause program (images/pause/pause.c), USER 65535
#   $MOOR_IMAGE_REPO/busybox:1.0   busybox-static with every applet linked (sh, sleep, httpd, nc, wget, ip, ...)
#   $MOOR_IMAGE_REPO/busybox:2.0   the same plus /etc/moor-image-version: another digest, for rolling updates
# The layers are built reproducibly (fixed mtimes, owners and order), so the digests only change
# when the inputs do. Idempotent: running it again pushes nothing new.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root
src=$(cd "$(dirname "$0")/.." && pwd)
work=$MOOR_STATE_DIR/images
mkdir -p "$work"

bash "$src/scripts/registry.sh" start >/dev/null

sha() { sha256sum "$1" | cut -d' ' -f1; }

# oci_image NAME TAG ROOTFS_DIR CONFIG_JSON_FRAGMENT -> an OCI image layout in $work/NAME-TAG
oci_image() {
  local name=$1 tag=$2 rootfs=$3 config=$4
  local out=$work/layout-$name-$tag
  rm -rf "$out"; mkdir -p "$out/blobs/sha256"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      -C "$rootfs" -cf "$out/layer.tar" .
  local diff_id; diff_id=$(sha "$out/layer.tar")
  gzip -n -9 < "$out/layer.tar" > "$out/layer.tar.gz"; rm "$out/layer.tar"
  local layer; layer=$(sha "$out/layer.tar.gz"); local layer_size; layer_size=$(stat -c %s "$out/layer.tar.gz")
  mv "$out/layer.tar.gz" "$out/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"moor scripts/images.sh"}]}' \
    "$config" "$diff_id" > "$out/config.json"
  local cfg; cfg=$(sha "$out/config.json"); local cfg_size; cfg_size=$(stat -c %s "$out/config.json")
  mv "$out/config.json" "$out/blobs/sha256/$cfg"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
    "$cfg" "$cfg_size" "$layer" "$layer_size" > "$out/manifest.json"
  local man; man=$(sha "$out/manifest.json"); local man_size; man_size=$(stat -c %s "$out/manifest.json")
  mv "$out/manifest.json" "$out/blobs/sha256/$man"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man" "$man_size" "$tag" > "$out/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
  skopeo copy -q --dest-tls-verify=false "oci:$out:$tag" "docker://$MOOR_IMAGE_REPO/$name:$tag"
  log "pushed $MOOR_IMAGE_REPO/$name:$tag (manifest sha256:$man)"
}

rootfs_base() {
  local root=$1
  rm -rf "$root"; mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev,var/www,home}
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
}

# pause
root=$work/rootfs-pause
rootfs_base "$root"
gcc -Os -static -o "$root/pause" "$src/images/pause/pause.c"
strip "$root/pause" 2>/dev/null || true
oci_image pause 1.0 "$root" '{"Entrypoint":["/pause"],"User":"65535:65535","WorkingDir":"/"}'

# busybox, two tags
busybox_config='{"Cmd":["sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"WorkingDir":"/"}'
root=$work/rootfs-busybox
rootfs_base "$root"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
  [ "$applet" = bin/busybox ] && continue
  mkdir -p "$root/$(dirname "$applet")"
  ln -sf /bin/busybox "$root/$applet"
done
oci_image busybox 1.0 "$root" "$busybox_config"
echo 2 > "$root/etc/moor-image-version"
oci_image busybox 2.0 "$root" "$busybox_config"
