#!/usr/bin/env bash
# Build the sandbox's execution image WITHOUT any container registry: debootstrap a Debian
# bookworm minbase root from the mirror in the host's apt sources, install the toolchains the
# runners use (python3, OpenJDK 17, JUnit 5, mono mcs), then `docker import` the tree (~40-90 s).
# Paths inside match the host's Debian layout (/usr/bin/python3, /usr/share/java/...), so the
# same runner commands work under bubblewrap and docker.
#
# usage: deploy/sandbox-runtime/build.sh [--tag NAME] [--force]
#   --tag    image name (default codeeval/sandbox-runtime:bookworm, the docker backend's default)
#   --force  rebuild even if the image exists (default: reuse it, so CI pays the build once)
# Needs root, debootstrap and a running Docker engine. With a registry, `docker build
# deploy/sandbox-runtime` builds the same toolchain set from the Dockerfile instead.
set -euo pipefail

TAG=codeeval/sandbox-runtime:bookworm
FORCE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
PACKAGES="python3 openjdk-17-jdk-headless junit5 mono-mcs procps"

if [ "$FORCE" -eq 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "sandbox runtime image $TAG: already built"; exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap and chroot need it)" >&2; exit 1; }

MIRROR=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
         | grep -oE 'https?://[^ ]+/debian/?' | head -n1 || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

ROOT=$(mktemp -d /tmp/codeeval-sandbox-runtime.XXXXXX)
cleanup() {
  umount "$ROOT/proc" 2>/dev/null || true
  rm -rf "$ROOT" "$ROOT.log"
}
trap cleanup EXIT

echo "debootstrap bookworm from $MIRROR into $ROOT"
debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 \
  || { tail -n 30 "$ROOT.log" >&2; exit 1; }
cat >"$ROOT/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian*}/debian-security bookworm-security main
SOURCES
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
fi
mount -t proc proc "$ROOT/proc"
# Debian's openjdk postinst needs /usr/share/man/man1 even when docs are dropped.
chroot "$ROOT" /bin/sh -c "
  set -e
  update-ca-certificates >/dev/null 2>&1 || true
  export DEBIAN_FRONTEND=noninteractive
  mkdir -p /usr/share/man/man1
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/*
"
umount "$ROOT/proc"

tar -C "$ROOT" -c . | docker import \
  --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'USER 65534:65534' --change 'WORKDIR /tmp' --change 'CMD ["sleep", "infinity"]' \
  --message "codeeval sandbox runtime: debootstrap bookworm minbase + $PACKAGES" - "$TAG" >/dev/null
echo "sandbox runtime image $TAG: built ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
