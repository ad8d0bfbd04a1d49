#!/usr/bin/env bash
# Build the CPU generator image (deploy/generator/Dockerfile.cpu) from a temporary build context:
# the repository files the Dockerfile copies, plus local wheels (torch's CPU wheel) in
# deploy/generator/wheels/ of that context when --wheels is given. Nothing is copied into the
# repository; the context is removed afterwards, and so is the image TAG named before, if no
# container uses it (each rebuild would otherwise leave GBs of untagged layers behind).
#
# usage: deploy/generator/build-cpu.sh [--tag NAME] [--base IMAGE] [--wheels DIR] [--torch-index URL]
#                                      [-- DOCKER_BUILD_ARGS...]
#   --tag          image name (default codeeval/generator:dev-cpu)
#   --base         BASE_IMAGE build arg (default: the Dockerfile's; codeeval/base:bookworm without a registry)
#   --wheels       directory whose *.whl (torch==2.13.0+cpu, say) pip may install from
#   --torch-index  extra index for torch (default: PyTorch's CPU index; with --wheels: none, i.e. offline torch)
#
# Example (no registry, no download.pytorch.org; PyPI reachable):
#   bash deploy/base/build-base.sh
#   bash deploy/generator/build-cpu.sh --base codeeval/base:bookworm --wheels DIR_WITH_THE_TORCH_CPU_WHEEL
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TAG=codeeval/generator:dev-cpu
BASE=
WHEELS=
TORCH_INDEX=
TORCH_INDEX_SET=0
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAG=$2; shift 2 ;;
    --base) BASE=$2; shift 2 ;;
    --wheels) WHEELS=$2; shift 2 ;;
    --torch-index) TORCH_INDEX=$2; TORCH_INDEX_SET=1; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

CONTEXT=$(mktemp -d "${TMPDIR:-/tmp}/codeeval-generator-cpu.XXXXXX")
trap 'rm -rf "$CONTEXT"' EXIT

# What Dockerfile.cpu copies (and .dockerignore, which keeps caches out), nothing else.
for path in .dockerignore pyproject.toml README.md src services/generator deploy/healthcheck.py deploy/generator; do
  mkdir -p "$CONTEXT/$(dirname "$path")"
  cp -a "$REPO/$path" "$CONTEXT/$path"
done
rm -rf "$CONTEXT/deploy/generator/wheels"
mkdir -p "$CONTEXT/deploy/generator/wheels"

ARGS=(build -f "$CONTEXT/deploy/generator/Dockerfile.cpu" -t "$TAG")
[ -n "$BASE" ] && ARGS+=(--build-arg "BASE_IMAGE=$BASE")
if [ -n "$WHEELS" ]; then
  compgen -G "$WHEELS/*.whl" >/dev/null || { echo "no *.whl in $WHEELS" >&2; exit 1; }
  # Hard links when on the same filesystem (no 200 MB copy), else copies.
  cp -l "$WHEELS"/*.whl "$CONTEXT/deploy/generator/wheels/" 2>/dev/null \
    || cp "$WHEELS"/*.whl "$CONTEXT/deploy/generator/wheels/"
  [ "$TORCH_INDEX_SET" -eq 1 ] || TORCH_INDEX_SET=1   # offline torch: only the local wheels
fi
[ "$TORCH_INDEX_SET" -eq 1 ] && ARGS+=(--build-arg "TORCH_INDEX=$TORCH_INDEX")

OLD_ID=$(docker image inspect -f '{{.Id}}' "$TAG" 2>/dev/null || true)
echo "building $TAG from $CONTEXT (wheels: ${WHEELS:-none}, torch index: $([ "$TORCH_INDEX_SET" -eq 1 ] && echo "${TORCH_INDEX:-none}" || echo default))" >&2
docker "${ARGS[@]}" "${EXTRA[@]}" "$CONTEXT"
# The image this tag named before (GBs, now untagged) goes unless a container still uses it; the
# layers the new image shares with it (the dependencies) stay.
NEW_ID=$(docker image inspect -f '{{.Id}}' "$TAG")
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
  docker image rm "$OLD_ID" >/dev/null 2>&1 && echo "removed the previous $TAG ($OLD_ID)" >&2 || true
fi
