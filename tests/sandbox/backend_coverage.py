"""CI's proof that every backend ran: with ``CODEEVAL_REQUIRE_BACKENDS`` set (comma-separated
backend names, e.g. ``bubblewrap,unshare,docker``), the test session fails at its end when any listed
backend ran no reward-hacking or conformance case.

A case counts for a backend when its test function was called (passed or failed, not skipped or
deselected) with the ``backend_engine`` fixture parametrized to that backend, in a module whose name
starts with ``test_conformance`` or ``test_reward_hacking``. Imported by tests/sandbox/conftest.py,
whose hooks these are; the counts live in the session's config. Cost: a few attribute reads per test.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Generator

import pytest

ENV = "CODEEVAL_REQUIRE_BACKENDS"
SUITES = ("test_conformance", "test_reward_hacking")
PARAM = "backend_engine"
_RAN = pytest.StashKey[Counter[str]]()


def required_backends() -> list[str]:
    """The backends ``CODEEVAL_REQUIRE_BACKENDS`` lists (empty when unset)."""
    return [b.strip() for b in os.environ.get(ENV, "").split(",") if b.strip()]


def counted_backend(item: pytest.Item) -> str | None:
    """The backend a suite case runs on, or None for any other test."""
    module = getattr(item, "module", None)
    name = module.__name__.rsplit(".", 1)[-1] if module is not None else ""
    callspec = getattr(item, "callspec", None)
    if not name.startswith(SUITES) or callspec is None:
        return None
    backend = callspec.params.get(PARAM)
    return backend if isinstance(backend, str) else None


def missing_backends(ran: Counter[str], required: list[str]) -> list[str]:
    return [b for b in required if ran[b] == 0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                             pytest.TestReport]:
    report = yield
    backend = counted_backend(item)
    if backend is not None and report.when == "call" and not report.skipped:
        item.config.stash.setdefault(_RAN, Counter())[backend] += 1
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    required = required_backends()
    if not required:
        return
    ran = session.config.stash.get(_RAN, Counter())
    missing = missing_backends(ran, required)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    counts = ", ".join(f"{b}: {ran[b]}" for b in required)
    if missing:
        line = (f"{ENV}={','.join(required)}: no reward-hacking or conformance case ran on "
                f"{', '.join(missing)} (cases run per backend: {counts}); the backend was skipped, unavailable "
                "or deselected")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        line = f"{ENV}: every required backend ran cases ({counts})"
    if reporter is not None:
        reporter.write_sep("=", line, red=bool(missing), green=not missing)
