#!/usr/bin/env bash
# Make a local Debian bookworm base image (python3 3.11, venv, CA certificates) without pulling
# from any registry: debootstrap into a folder, then `docker import`. Skipped when it exists.
#
#   deploy/base_image.sh [NAME]          # NAME: $CURATION_BASE_IMAGE or curation-base:bookworm
#
# The mirror is the one apt uses on this machine (first URIs:/deb line), or $DEBIAN_MIRROR.
set -euo pipefail
NAME="${1:-${CURATION_BASE_IMAGE:-curation-base:bookworm}}"
log() { echo "base_image: $*" >&2; }

if docker image inspect "$NAME" >/dev/null 2>&1; then
  log "$NAME exists (cached)"
  exit 0
fi

apt_mirror() {
  local uri
  uri=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
  [ -n "$uri" ] || uri=$(grep -hsE '^deb ' /etc/apt/sources.list | awk '{print $2}' | head -1)
  echo "${uri:-http://deb.debian.org/debian}"
}
MIRROR="${DEBIAN_MIRROR:-$(apt_mirror)}"

if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
fi

ROOTFS="$(mktemp -d /var/tmp/curation-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
log "debootstrap bookworm from $MIRROR into $ROOTFS"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$ROOTFS" "$MIRROR" >&2
# Keep the image lean: no apt lists or downloaded packages (Dockerfiles that need apt update).
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
version=$(chroot "$ROOTFS" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$version" != "3.11" ]; then
  log "python3 in the base is $version; the project needs 3.11"
  exit 1
fi
tar -C "$ROOTFS" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' - "$NAME" >&2
log "imported $NAME (python $version)"
