#!/usr/bin/env bash
# Build a Debian bookworm base image with python3 WITHOUT pulling from any container registry:
# debootstrap a minbase root from the Debian mirror in the host's apt sources, install python3
# (and any extra packages) in a chroot, then `docker import` the tree.
#
# usage: deploy/base/build-base.sh [--tag NAME] [--force] [EXTRA_DEBIAN_PACKAGE ...]
#   --tag    image name (default codeeval/base:bookworm)
#   --force  rebuild even if the image exists (default: reuse it; the build costs ~40-60 s)
#
# The image is what the service Dockerfiles build FROM when no registry is reachable:
#   docker build --build-arg BASE_IMAGE=codeeval/base:bookworm -f deploy/sandbox/Dockerfile .
# Its Python is Debian's /usr/bin/python3 (3.11); python3-venv is there so a build stage can
# create the service's virtualenv. Needs root, debootstrap and a running Docker engine.
set -euo pipefail

TAG=codeeval/base:bookworm
FORCE=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) EXTRA+=("$1"); shift ;;
  esac
done

if [ "$FORCE" -eq 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "base image $TAG: already built"; exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap and chroot need it)" >&2; exit 1; }

# The mirror the host already uses (deb822 or one-line sources), so no other host is contacted.
MIRROR=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
         | grep -oE 'https?://[^ ]+/debian/?' | head -n1 || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

ROOT=$(mktemp -d /tmp/codeeval-base.XXXXXX)
cleanup() {
  umount "$ROOT/proc" 2>/dev/null || true
  rm -rf "$ROOT"
}
trap cleanup EXIT

echo "debootstrap bookworm from $MIRROR into $ROOT"
debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 \
  || { tail -n 30 "$ROOT.log" >&2; exit 1; }
rm -f "$ROOT.log"

cat >"$ROOT/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian*}/debian-security bookworm-security main
SOURCES
# Extra CAs the host trusts (a TLS-intercepting egress proxy, a company CA) go into the image too,
# so apt and pip inside `docker build` reach the same registries the host reaches. pip's vendored
# certifi and node's bundled CAs ignore the system store, hence PIP_CERT and NODE_EXTRA_CA_CERTS.
CHANGES=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  CHANGES+=(--change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
fi
mount -t proc proc "$ROOT/proc"
chroot "$ROOT" /bin/sh -c "
  set -e
  update-ca-certificates >/dev/null 2>&1
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3 python3-venv ${EXTRA[*]} >/dev/null
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*
"
umount "$ROOT/proc"

tar -C "$ROOT" -c . | docker import \
  --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/usr/bin/python3"]' "${CHANGES[@]}" \
  --message "codeeval base: debootstrap bookworm minbase + python3 ${EXTRA[*]}" - "$TAG" >/dev/null
echo "base image $TAG: built ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
