"""memory.StepTrim, train.trim_heap's decision after each step: every step, never, or once the resident
set after a step has grown past the first step's by the threshold; bad settings are config errors naming
the field. Pure decision logic on given sizes (the real trim runs in test_step_trim_option.py)."""

from __future__ import annotations

import pytest

from codeeval.kit.errors import InvalidArgument
from codeeval.trainer import memory
from codeeval.trainer.recipe_schema import load_config

MiB = 2**20


@pytest.mark.parametrize("setting", [True, False])
def test_boolean_settings_trim_every_step_or_never(setting: bool) -> None:
    policy = memory.StepTrim(setting)
    assert [policy.decide(rss * MiB) for rss in (1500, 4000, 100, 9000)] == [setting] * 4


def test_threshold_trims_only_past_the_first_steps_resident_set_plus_n_mib() -> None:
    policy = memory.StepTrim(256)
    decisions = [policy.decide(rss * MiB) for rss in (1500, 1700, 1756, 1757, 900, 2100, 1600)]
    assert policy.reference == 1500 * MiB
    assert decisions == [False, False, False, True, False, True, False]


def test_after_step_trims_when_decided(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = iter([1000 * MiB, 1200 * MiB, 1001 * MiB])
    calls: list[int] = []

    def fake_trim() -> bool:
        calls.append(1)
        return True

    monkeypatch.setattr(memory, "resident_bytes", lambda: next(sizes))
    monkeypatch.setattr(memory, "trim_heap", fake_trim)
    policy = memory.StepTrim(100)
    assert [policy.after_step() for _ in range(3)] == [False, True, False]
    assert policy.trims == 1 and len(calls) == 1


def test_resident_bytes_reads_this_process() -> None:
    if memory.resident_bytes() == 0:
        pytest.skip("no /proc/self/status here")
    block = b"\x01" * (64 * MiB)  # written, so resident
    assert memory.resident_bytes() > 64 * MiB
    del block


@pytest.mark.parametrize("bad", ["0", "-5", "1.5", "auto", "[1]"])
def test_bad_setting_is_a_config_error_naming_the_field(bad: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        load_config("tiny-multitask-lora", {"train.trim_heap": bad})
    assert err.value.field == "train.trim_heap"
    assert "MiB >= 1" in str(err.value)


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ("384", 384)])
def test_settings_load_as_bool_or_mib(text: str, value: bool | int) -> None:
    got = load_config("tiny-multitask-lora", {"train.trim_heap": text}).train.trim_heap
    assert got == value and type(got) is type(value)


def test_constructor_rejects_what_the_schema_rejects() -> None:
    with pytest.raises(ValueError, match="train.trim_heap"):
        memory.StepTrim(0)
