# The targets here are exactly what the README and CI call.
VENV ?= .venv
PY := $(VENV)/bin/python
CODEEVAL := $(VENV)/bin/codeeval
FAST := not slow and not integration and not docker and not gpu
SLOW := (slow or integration or docker) and not gpu and not reliability

.PHONY: setup system-deps system-deps-test venv proto lint test test-slow test-all main bench clean deploy-check reliability

setup: system-deps venv  ## everything a fresh machine needs (idempotent)

system-deps:  ## the system packages the main job runs on
	bash scripts/install-system-deps.sh

system-deps-test:  ## those plus what only the tests and image builds use (Chromium, Docker, gVisor, debootstrap, procps)
	bash scripts/install-system-deps.sh --test

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml services/*/pyproject.toml scripts/install-python-deps.sh
	bash scripts/install-python-deps.sh $(VENV)
	touch $@

proto: venv  ## regenerate the gRPC stubs after editing proto/
	$(PY) tools/gen_proto.py

lint: venv  ## buf lint on the protos, stubs match the protos, ruff, import contracts, mypy over all of src/ and services/
	cd proto && $$(bash ../scripts/install-buf.sh) lint
	$(PY) tools/gen_proto.py --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy src services reliability

test: setup system-deps-test  ## the README's test command: lint + the fast suite
	$(MAKE) lint
	$(PY) -m pytest -m "$(FAST)"

test-slow: setup system-deps-test  ## slow, integration and docker tests (CI runs these too)
	$(PY) -m pytest -m "$(SLOW)" --durations=25 || [ $$? -eq 5 ]

test-all: test test-slow

main:  ## the README's first command: install, train a CPU multi-task QLoRA adapter, bench base vs adapter, print report path
	bash scripts/main-job.sh

RELIABILITY_PROFILE ?= full
RELIABILITY_OUT ?= RELIABILITY.md
reliability: setup  ## bad input on every RPC, load and faults against the real services; writes RELIABILITY.md (RELIABILITY_PROFILE=short: CI's, 4.5 min)
	$(PY) -m reliability --profile $(RELIABILITY_PROFILE) --out $(RELIABILITY_OUT)

deploy-check: venv  ## kustomize build + offline schema validation + pod security policy (seconds; part of `make test` too)
	$(PY) -m pytest tests/deploy -m "$(FAST)" -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
