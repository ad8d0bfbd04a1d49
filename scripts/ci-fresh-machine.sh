#!/usr/bin/env bash
# The README's first command on a newcomer's machine: a clean Debian 12 container with what a cloud
# image has (python3, git, make, CA certificates), built without any registry (deploy/base/build-base.sh
# --kind fresh), a fresh `git clone` of this checkout's HEAD into root's 0700 home, no shared/ beside
# it, pip seeing only PyPI, a default 64 MiB /dev/shm. Runs `make main` twice (fresh, then the rerun)
# and, with --with-test, `make test`; prints the wall time of every stage and every output line's
# offset. Exits non-zero when a stage fails. Costs ~10 GB of disk (image + container). Measured on a quiet
# 2-core machine (pypi path, nothing cached): image 33 s, first `make main` 313 s, second 16 s, `make test`
# 184 s; the load of other work stretches it many times over (40 min for the first `make main` at load 15-25).
#
# usage: scripts/ci-fresh-machine.sh [--with-test] [--rebuild] [--keep] [--log FILE] [--cache DIR|--no-cache]
#   --with-test  also run `make test` in the container after the two `make main` runs
#   --rebuild    debootstrap the image again even if it exists (~1 min; default: reuse it)
#   --keep       leave the container (named codeeval-fresh-<pid>) for inspection
#   --log FILE   the full transcript (default: a mktemp file, printed at the end)
#   --cache DIR  keep the container's download caches here between runs: apt's .deb archive, pip's
#                and npm's caches (~4.5 GB on the pypi path); only downloads, never an installed
#                venv or model. Default $CODEEVAL_FRESH_CACHE or ~/.cache/codeeval-fresh
#   --no-cache   download everything, as a newcomer does
# Needs root, debootstrap and a running Docker engine (bash scripts/start-dockerd.sh). Only committed
# files travel: commit first. The container gets the capabilities bubblewrap needs for the sandbox
# (a user namespace, mounts); nothing else of the host is shared with it.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TEST=0
REBUILD=()
KEEP=0
LOG=
CACHE=${CODEEVAL_FRESH_CACHE-$HOME/.cache/codeeval-fresh}
while [ $# -gt 0 ]; do
  case "$1" in
    --with-test) WITH_TEST=1; shift ;;
    --keep) KEEP=1; shift ;;
    --log) LOG=$2; shift 2 ;;
    --rebuild) REBUILD=(--force); shift ;;
    --cache) CACHE=$2; shift 2 ;;
    --no-cache) CACHE=; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
LOG=${LOG:-$(mktemp "${TMPDIR:-/tmp}/codeeval-fresh.XXXXXX.log")}
IMAGE=codeeval/fresh:bookworm
NAME=codeeval-fresh-$$
REPO=$(pwd)
T0=$(date +%s)
TIMES=()

cleanup() { [ "$KEEP" -eq 1 ] || docker rm -f "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# stage NAME CMD...: run CMD, prefix each output line with the seconds since the start, record its wall time.
stage() {
  local name=$1; shift
  local t=$(date +%s) rc=0
  echo "== $name ==" | tee -a "$LOG"
  "$@" 2>&1 | while IFS= read -r line; do printf '[%5ds] %s\n' $(( $(date +%s) - T0 )) "$line"; done | tee -a "$LOG" \
    || rc=$?
  local took=$(( $(date +%s) - t ))
  TIMES+=("$(printf '%-28s %5ds  %s' "$name" "$took" "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)")")")
  echo "== $name: ${took}s, exit $rc ==" | tee -a "$LOG"
  return "$rc"
}
summary() {
  echo "== stage times (total $(( $(date +%s) - T0 ))s; transcript $LOG) =="
  printf '%s\n' "${TIMES[@]}"
}

# inside the container: the clone lives in the container user's own home (root's, mode 0700), as a newcomer's would
in_container() { docker exec "$NAME" bash -lc "cd \"\$HOME/main\" && $*"; }

# the download caches: apt's where apt looks, pip's and npm's where their environment variables point
CACHE_MOUNTS=()
if [ -n "$CACHE" ]; then
  mkdir -p "$CACHE/apt" "$CACHE/pip" "$CACHE/npm"
  CACHE_MOUNTS=(-v "$CACHE/apt:/var/cache/apt/archives"
                -v "$CACHE/pip:/var/cache/codeeval-fresh/pip" -e PIP_CACHE_DIR=/var/cache/codeeval-fresh/pip
                -v "$CACHE/npm:/var/cache/codeeval-fresh/npm" -e npm_config_cache=/var/cache/codeeval-fresh/npm)
fi

run_all() {
  stage "image (debootstrap)" bash deploy/base/build-base.sh --kind fresh --tag "$IMAGE" "${REBUILD[@]}" || return
  echo "download caches: ${CACHE:-none (--no-cache)}$([ -n "$CACHE" ] && du -sh "$CACHE" 2>/dev/null | cut -f1 | sed 's/^/, /')" \
    | tee -a "$LOG"
  stage "container + clone" bash -c "
    docker run -d --init --name '$NAME' --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add SYS_PTRACE \
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined \
      ${CACHE_MOUNTS[*]@Q} -v '$REPO/.git:/src.git:ro' '$IMAGE' sleep infinity >/dev/null
    docker exec '$NAME' bash -lc 'chmod 700 ~ && git clone -q /src.git ~/main && cd ~/main &&
      stat -c \"home %a %U\" ~ && git log --oneline -1 && ls ~'" || return
  stage "make main (fresh)" in_container make main || return
  stage "make main (again)" in_container make main || return
  if [ "$WITH_TEST" -eq 1 ]; then stage "make test" in_container make test || return; fi
}

rc=0
run_all || rc=$?
summary | tee -a "$LOG"
exit "$rc"
