"""The report's view of what a checkpoint saw (issue 19): the headline note appears when a variant's
gain comes from contaminated items and not otherwise; "contamination unknown" and "provenance
unknown" are shown as such; provenance and mixture differences beside the scores. The records are
made by the real check and the real metadata reader; the results dicts by hand (pass@1, one sample)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codeeval.contamination import Provenance, TrainingSource, check, read_provenance, suite_texts
from codeeval.contamination.check import examples_sha256
from codeeval.contamination.provenance import MixtureEntry
from codeeval.data import Example, Item
from codeeval.pipeline.comparison import compare_results
from codeeval.pipeline.contamination_view import headline_notes, sections

ITEMS = [Item(f"i{j}", {"code": " ".join(f"tok{j}x{w}" for w in range(20))}, reference=f"does thing {j}")
         for j in range(10)]


def _record(planted: list[int], sources: bool = True) -> dict[str, Any]:
    """The real check's record with items ``planted`` copied into the training data."""
    train = [Example("gen", dict(ITEMS[j].fields), "a target") for j in planted]
    return check(suite_texts({"gen": ITEMS}), [TrainingSource("gen (jsonl)", examples=train)] if sources else [],
                 reason_if_none="the adapter's metadata names no training sources").to_json()


def _run(passed: list[bool], record: dict[str, Any] | None = None, provenance: Provenance | None = None
         ) -> dict[str, Any]:
    res: dict[str, Any] = {"receipt": {"adapter": None}, "tasks": {"gen": {"pass_at_k": {"1": {}}, "instances": {
        f"i{j}": {"n": 1, "c": int(p), "passed": [p]} for j, p in enumerate(passed)}}}}
    if record is not None:
        res["receipt"]["adapter"] = {"name": "tuned"}
        res["contamination"] = record
        res["provenance"] = (provenance or Provenance("known", "adapter", mixture=[
            MixtureEntry("gen", 40, 40, 1.0)])).to_json()
    return res


def _notes(base: dict[str, Any], tuned: dict[str, Any]) -> dict[str, str]:
    results = {"base": base, "tuned": tuned}
    return headline_notes(results, [compare_results(base, tuned, label_a="base", label_b="tuned")])


def test_the_headline_says_a_gain_from_contaminated_items() -> None:
    # tuned passes exactly the six items it was trained on: significant in full (McNemar p = 1/32)
    notes = _notes(_run([False] * 10), _run([True] * 6 + [False] * 4, _record([0, 1, 2, 3, 4, 5])))
    assert notes == {"gen": "tuned's gain over base on gen (pass@1 +0.600) comes from 6 contaminated items: "
                            "on the 4 clean items the difference is +0.000 [+0.000, +0.000]"}


@pytest.mark.parametrize(("planted", "passed"), [
    ([0, 1], [True] * 10),                     # the gain is on every item, contaminated or not
    ([0, 1, 2, 3], [True] * 8 + [False] * 2),  # clean items keep 4/6 of a 0.8 gain: more than half
    ([0, 1, 2, 3, 4, 5], [False] * 10),        # no gain at all
    ([], [True] * 6 + [False] * 4),            # a gain, nothing contaminated
])
def test_no_note_when_the_gain_is_not_from_contaminated_items(planted: list[int], passed: list[bool]) -> None:
    assert _notes(_run([False] * 10), _run(passed, _record(planted))) == {}


def test_contamination_unknown_is_said_never_clean() -> None:
    tuned = _run([True] * 6 + [False] * 4, _record([], sources=False))
    assert tuned["contamination"]["status"] == "unknown"
    base = _run([False] * 10)
    note = _notes(base, tuned)["gen"]
    assert note.startswith("tuned: contamination unknown: the adapter's metadata names no training sources")
    cmp = compare_results(base, tuned, label_a="base", label_b="tuned")
    text = "\n".join(s.markdown for s in sections({"base": base, "tuned": tuned}, [cmp]))
    # no clean count is claimed; the 3-word references are flagged exact-match only
    assert "| gen | contamination unknown | 10 | 0 | 0 | - | 0 / 10 | unknown |" in text
    assert "| all | clean for tuned | tuned: contamination unknown" in text
    assert ("tuned vs base: no clean-subset tests: contamination unknown; gen: tuned: contamination unknown"
            in text)


def test_an_adapter_without_metadata_is_provenance_unknown(tmp_path: Path) -> None:
    bare = tmp_path / "adapter"
    bare.mkdir()
    prov = read_provenance(bare)
    assert prov.status == "unknown" and prov.reason.startswith("provenance unknown")
    record = check(suite_texts({"gen": ITEMS}), [], reason_if_none=prov.reason).to_json()
    tuned = _run([True] * 10, record, prov)
    by_title = {s.title: s for s in sections({"base": _run([False] * 10), "tuned": tuned}, [])}
    provenance = by_title["Provenance"].markdown
    assert f"tuned: provenance unknown: {bare} has no codeeval_adapter.json" in provenance
    assert "base: the base model without an adapter" in provenance
    # a results.json with an adapter but no records at all (a run before the records existed)
    old = {"receipt": {"adapter": {"name": "old"}}, "tasks": tuned["tasks"]}
    shown = {s.title: s.markdown for s in sections({"old": old}, [])}
    assert "old: provenance unknown: this results.json has no provenance record" in shown["Provenance"]
    assert "old: contamination unknown: this results.json has no contamination record" in shown["Contamination"]


def test_clean_subset_metrics_and_tests_beside_the_full_ones() -> None:
    base, tuned = _run([False] * 10), _run([True] * 6 + [False] * 4, _record([0, 1, 2, 3, 4, 5]))
    cmp = compare_results(base, tuned, label_a="base", label_b="tuned")
    by_title = {s.title: s for s in sections({"base": base, "tuned": tuned}, [cmp])}
    assert list(by_title) == ["Contamination", "Clean-subset metrics",
                              "Comparison tests on the clean subset (not gated)", "Provenance"]
    contamination = by_title["Contamination"].markdown
    assert "| gen | contaminated | 10 | 6 | 0 | i0, i1, i2, i3, i4, i5 | 0 / 10 | 4 |" in contamination
    metrics = by_title["Clean-subset metrics"].markdown
    assert "| tuned | all | 10 | 0.600 [" in metrics and "| tuned | clean for tuned | 4 | 0.000 [" in metrics
    assert "| base | clean for tuned | 4 | 0.000 [" in metrics
    tests = by_title["Comparison tests on the clean subset (not gated)"].markdown
    assert "| gen | pass@1 | mcnemar | +0.600 [" in tests and "| 6 | +0.000 [+0.000, +0.000] p_adj=1 n=4 |" in tests


def test_a_baseline_outside_the_run_gets_no_clean_tests() -> None:
    base, tuned = _run([False] * 10), _run([True] * 10, _record([0]))
    cmp = compare_results(base, tuned, label_a="baseline old/results.json", label_b="tuned")
    tests = {s.title: s.markdown for s in sections({"tuned": tuned}, [cmp])}
    assert ("tuned vs baseline old/results.json: no clean-subset tests: baseline old/results.json is not a "
            "variant of this run.") in tests["Comparison tests on the clean subset (not gated)"]


def test_provenance_and_the_mixture_difference_of_two_adapters() -> None:
    known = json.loads(json.dumps({"kind": "adapter", "method": "qlora", "base_model": "org/model",
                                   "base_model_sha256": "b" * 64, "template": "chatml", "template_sha256": "c" * 64,
                                   "seed": 7, "cost": {"wall_seconds": 12.5}, "steps": 12, "outcome": "completed"}))
    config = {"description": "tiny", "method": {"kind": "qlora", "lora": {"r": 8, "alpha": 16, "dropout": 0.1},
                                                "quant": {"bits": 4, "quant_type": "nf4"}},
              "train": {"max_steps": 12, "learning_rate": 0.0005}, "data": {"max_length": 128}}
    a = Provenance("known", "a", mixture=[MixtureEntry("translate", 48, 48, 0.5), MixtureEntry("summ", 48, 48, 0.5)],
                   mixing={"strategy": "natural"}, config=config, **known)
    b = Provenance("known", "b", mixture=[MixtureEntry("translate", 48, 96, 0.75), MixtureEntry("gen", 32, 32, 0.25)],
                   **known)
    ra, rb = _run([True] * 10, _record([]), a), _run([True] * 10, _record([]), b)
    cmp = compare_results(ra, rb, label_a="one", label_b="two")
    shown = {s.title: s for s in sections({"one": ra, "two": rb}, [cmp])}
    provenance = shown["Provenance"].markdown
    assert "| method | qlora (adapter) |" in provenance and "| seed | 7 |" in provenance
    assert ("| trainer config | tiny; lora r=8 alpha=16 dropout=0.1; 4-bit nf4; kind=qlora; max_steps=12; "
            "learning_rate=0.0005; max_length=128 |") in provenance
    assert "| trainer config | not recorded |" in provenance  # b has no config
    assert "| base model | org/model sha256 bbbbbbbbbbbbbbbb |" in provenance
    assert "| mixing | strategy=natural |" in provenance and "| cost | wall_seconds=12.5 |" in provenance
    assert "| translate | 48 | 48 | 0.500 |" in provenance
    assert "mixture difference two vs one (B - A):" in provenance
    rows = ("| translate | 48 | 96 | +0.250 |", "| summ | 48 | absent | -0.500 |", "| gen | absent | 32 | +0.250 |")
    assert all(row in provenance for row in rows)
    assert "<table>" in shown["Provenance"].html and "<html" not in shown["Provenance"].html


def test_html_is_escaped() -> None:
    items = [Item("<b>x</b>", {"code": " ".join(f"w{w}" for w in range(20))})]
    record = check(suite_texts({"gen": items}), [TrainingSource("t", examples=[
        Example("gen", dict(items[0].fields), "t")])]).to_json()
    tuned: dict[str, Any] = {"receipt": {"adapter": {}}, "contamination": record, "provenance": None,
                             "tasks": {"gen": {"instances": {"<b>x</b>": {"n": None}}}}}
    html = next(s.html for s in sections({"tuned": tuned}, []) if s.title == "Contamination")
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>" not in html


def test_the_trainers_data_hash_is_compared_with_what_the_check_read() -> None:
    record = _record([0, 1])
    trained = [Example("gen", dict(ITEMS[j].fields), "a target") for j in (0, 1)]
    same = Provenance("known", "a", data_sha256={"gen": examples_sha256(trained)})
    other = Provenance("known", "b", data_sha256={"gen": examples_sha256(trained[:1])})
    for prov, trained_on, said in ((same, trained, "(the check read the same examples)"),
                                   (other, trained[:1], "(the check read other examples")):
        shown = {s.title: s.markdown for s in sections({"tuned": _run([True] * 10, record, prov)}, [])}
        assert f"| data sha256 | gen={examples_sha256(trained_on)[:12]} {said}" in shown["Provenance"]
