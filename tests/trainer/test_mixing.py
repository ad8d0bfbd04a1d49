"""Mixing strategies: natural, equal, temperature; counts are what was drawn."""

from __future__ import annotations

from collections import Counter

from codeeval.trainer.mixing import mix
from codeeval.trainer.readers import Example
from codeeval.trainer.recipe_schema import MixingSpec


def _tasks(**sizes: int) -> dict[str, list[Example]]:
    return {t: [Example(t, {"code": f"{t}{i}"}, "y") for i in range(n)] for t, n in sizes.items()}


def _drawn(mixed: list[Example]) -> dict[str, int]:
    return dict(Counter(e.task for e in mixed))


def test_natural_keeps_every_example_once() -> None:
    mixed, counts = mix(_tasks(a=200, b=10), MixingSpec(strategy="natural"), seed=1)
    assert _drawn(mixed) == {"a": 200, "b": 10}
    assert len({e.fields["code"] for e in mixed}) == 210
    assert [(c.task, c.available, c.effective) for c in counts] == [("a", 200, 200), ("b", 10, 10)]
    assert abs(counts[0].proportion - 200 / 210) < 1e-9


def test_equal_balances_and_repeats_small_tasks() -> None:
    mixed, counts = mix(_tasks(a=200, b=10), MixingSpec(strategy="equal", size=100), seed=1)
    assert _drawn(mixed) == {"a": 50, "b": 50}
    b_codes = Counter(e.fields["code"] for e in mixed if e.task == "b")
    assert set(b_codes.values()) == {5}
    assert [c.effective for c in counts] == [50, 50]


def test_temperature_interpolates() -> None:
    mixed, counts = mix(_tasks(a=400, b=100), MixingSpec(strategy="temperature", temperature=2.0), seed=0)
    assert sum(c.effective for c in counts) == 500 == len(mixed)
    # p ~ sqrt(n): 20 : 10 -> 2/3 and 1/3
    assert _drawn(mixed) == {"a": 333, "b": 167}
    one = mix(_tasks(a=400, b=100), MixingSpec(strategy="temperature", temperature=1.0), seed=0)[1]
    assert [c.effective for c in one] == [400, 100]


def test_mix_is_deterministic_in_the_seed() -> None:
    a = [e.fields["code"] for e in mix(_tasks(a=30, b=7), MixingSpec(), seed=3)[0]]
    b = [e.fields["code"] for e in mix(_tasks(a=30, b=7), MixingSpec(), seed=3)[0]]
    c = [e.fields["code"] for e in mix(_tasks(a=30, b=7), MixingSpec(), seed=4)[0]]
    assert a == b and a != c
