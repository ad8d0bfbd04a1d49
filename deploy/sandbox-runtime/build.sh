#!/usr/bin/env bash
# The sandbox docker backend's execution image (codeeval/sandbox-runtime:bookworm), built without a
# registry by the one image script: deploy/base/build-base.sh --kind sandbox-runtime (see its help
# for the package list). Arguments (--tag NAME, --force) pass through. With a registry,
# `docker build deploy/sandbox-runtime` builds the same toolchain set from the Dockerfile instead.
set -euo pipefail
exec bash "$(dirname "$0")/../base/build-base.sh" --kind sandbox-runtime "$@"
