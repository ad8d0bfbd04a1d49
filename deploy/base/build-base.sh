#!/usr/bin/env bash
# Build a Debian bookworm image WITHOUT pulling from any container registry: debootstrap a minbase
# root from the Debian mirror in the host's apt sources, install one kind's packages in a chroot,
# then `docker import` the tree (~40-90 s). The one script for every registry-free image:
#
#   base             python3 + python3-venv: what the service Dockerfiles build FROM
#                    (docker build --build-arg BASE_IMAGE=codeeval/base:bookworm -f deploy/sandbox/Dockerfile .)
#   sandbox-runtime  the sandbox docker backend's execution image: python3, OpenJDK 17, JUnit 5, mono mcs;
#                    paths match the host's Debian layout, so the runner commands work under bubblewrap too.
#                    Runs as 65534 in /tmp (deploy/sandbox-runtime/build.sh calls this kind).
#   fresh            what a cloud image of Debian 12 has (python3, git, make, CA certificates):
#                    the newcomer's machine scripts/ci-fresh-machine.sh runs the README in.
#
# usage: deploy/base/build-base.sh [--kind KIND] [--tag NAME] [--force] [EXTRA_DEBIAN_PACKAGE ...]
#   --kind   base (default), sandbox-runtime or fresh
#   --tag    image name (default codeeval/base:bookworm, codeeval/sandbox-runtime:bookworm, codeeval/fresh:bookworm)
#   --force  rebuild even if the image exists (default: reuse it, so CI pays the build once)
# Needs root, debootstrap and a running Docker engine.
set -euo pipefail

# The one package list: package, then the kinds that get it.
PACKAGE_TABLE="
python3                  base sandbox-runtime fresh
python3-venv             base
openjdk-17-jdk-headless  sandbox-runtime
junit5                   sandbox-runtime
mono-mcs                 sandbox-runtime
procps                   sandbox-runtime
git                      fresh
make                     fresh
"

KIND=base
TAG=
FORCE=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kind) KIND=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    -*) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
    *) EXTRA+=("$1"); shift ;;
  esac
done
case "$KIND" in
  base|sandbox-runtime|fresh) ;;
  *) echo "--kind must be base, sandbox-runtime or fresh, not '$KIND'" >&2; exit 2 ;;
esac
TAG=${TAG:-codeeval/$KIND:bookworm}
PACKAGES=$(awk -v k="$KIND" '{ for (i = 2; i <= NF; i++) if ($i == k) print $1 }' <<<"$PACKAGE_TABLE" | xargs)
PACKAGES="$PACKAGES ${EXTRA[*]}"

if [ "$FORCE" -eq 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "$KIND image $TAG: already built"; exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap and chroot need it)" >&2; exit 1; }

# The mirror the host already uses (deb822 or one-line sources), so no other host is contacted.
MIRROR=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
         | grep -oE 'https?://[^ ]+/debian/?' | head -n1 || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/codeeval-$KIND.XXXXXX")
cleanup() {
  umount "$ROOT/proc" 2>/dev/null || true
  rm -rf "$ROOT" "$ROOT.log"
}
trap cleanup EXIT

echo "debootstrap bookworm from $MIRROR into $ROOT ($KIND: $PACKAGES)"
debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 \
  || { tail -n 30 "$ROOT.log" >&2; exit 1; }

cat >"$ROOT/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian*}/debian-security bookworm-security main
SOURCES
# Extra CAs the host trusts (a TLS-intercepting egress proxy, a company CA) go into the image too,
# so apt and pip inside `docker build` reach the same registries the host reaches. pip's vendored
# certifi and node's bundled CAs ignore the system store, hence PIP_CERT and NODE_EXTRA_CA_CERTS.
CHANGES=(--change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  CHANGES+=(--change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
fi
case "$KIND" in
  sandbox-runtime) CHANGES+=(--change 'USER 65534:65534' --change 'WORKDIR /tmp' --change 'CMD ["sleep", "infinity"]') ;;
  fresh) CHANGES+=(--change 'WORKDIR /root' --change 'CMD ["/bin/bash"]') ;;
  *) CHANGES+=(--change 'CMD ["/usr/bin/python3"]') ;;
esac

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

tar -C "$ROOT" -c . | docker import "${CHANGES[@]}" \
  --message "codeeval $KIND: debootstrap bookworm minbase + $PACKAGES" - "$TAG" >/dev/null
echo "$KIND image $TAG: built ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
