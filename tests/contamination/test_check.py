"""The contamination check on planted data: copies found exactly, paraphrases below the threshold
not, short items by exact match only, unknown without training data, the clean subset."""

from __future__ import annotations

import random

import pytest

from codeeval.contamination import Settings, SuiteText, TrainingSource, check
from codeeval.contamination.ngrams import NgramIndex, words
from codeeval.data import Example
from codeeval.kit.errors import InvalidArgument

WORDS = [f"w{i}" for i in range(5000)]


def _text(rng: random.Random, n: int) -> str:
    """A code-like text of ``n`` words that shares no 13-gram with another such text (by chance)."""
    toks = rng.sample(WORDS, n)
    return "\n".join(f"    {a} = {b}({c}, {d})" for a, b, c, d in zip(*[iter(toks)] * 4, strict=False))


def _paraphrase(text: str) -> str:
    """Every 12th word replaced: no 13-gram survives, most of the text does."""
    out = []
    for i, w in enumerate(text.split(" ")):
        out.append("changed" if i % 12 == 11 else w)
    return " ".join(out)


@pytest.fixture
def suite() -> list[SuiteText]:
    rng = random.Random(7)
    items = [SuiteText("gen" if i < 10 else "sum", f"item-{i}", _text(rng, 40), _text(rng, 40)) for i in range(20)]
    items.append(SuiteText("sum", "short-1", "def f(x): return x", "return the input"))
    items.append(SuiteText("sum", "short-2", "def g(y): return y", "return y unchanged"))
    items.append(SuiteText("sum", "no-ref", _text(rng, 40), ""))
    return items


def _planted(suite: list[SuiteText]) -> list[Example]:
    by_id = {it.id: it for it in suite}
    rng = random.Random(1)
    filler = [Example("t", {"code": _text(rng, 60)}, _text(rng, 30)) for _ in range(50)]
    planted = [
        # item-3's prompt inside a longer training input, whitespace changed
        Example("t", {"code": "# intro\n" + "  ".join(by_id["item-3"].prompt.split()) + "\nmore = 1"}, "x = 1"),
        # item-12's reference as a training target, verbatim
        Example("t", {"code": "unrelated = 2"}, by_id["item-12"].reference),
        # item-5's prompt paraphrased below the threshold
        Example("t", {"code": _paraphrase(by_id["item-5"].prompt)}, "y = 2"),
        # the short item's prompt exactly (other whitespace), and a near miss of the other short one
        Example("t", {"code": "def  f(x):\n    return x"}, "z = 3"),
        Example("t", {"code": "def g(y): return y + 1"}, "w = 4"),
        # a 13-gram of item-15's reference, cut out of it (the check's unit: one shared n-gram)
        Example("t", {"code": " ".join(words(by_id["item-15"].reference, Settings())[5:18])}, "v = 5"),
    ]
    out = filler[:25] + planted + filler[25:]
    return out


def test_planted_contamination_is_found_exactly(suite):
    result = check(suite, [TrainingSource("train", examples=_planted(suite))])
    assert result.status == "contaminated"
    gen, summ = result.tasks["gen"], result.tasks["sum"]
    assert gen.contaminated == {"prompt": ["item-3"], "reference": []}
    assert summ.contaminated == {"prompt": ["short-1"], "reference": ["item-12", "item-15"]}
    assert gen.status == summ.status == "contaminated"
    assert summ.matches["short-1"]["prompt"].kind == "exact"
    assert gen.matches["item-3"]["prompt"].kind == "ngram"
    assert gen.matches["item-3"]["prompt"].example == 25  # the first planted example, after 25 fillers
    assert summ.matches["item-12"]["reference"].kind == "exact"
    assert summ.short == {"prompt": ["short-1", "short-2"], "reference": ["short-1", "short-2"]}
    assert summ.absent["reference"] == ["no-ref"]


def test_the_clean_subset_is_every_item_but_the_contaminated_ones(suite):
    result = check(suite, [TrainingSource("train", examples=_planted(suite))])
    assert result.clean_ids("gen") == [f"item-{i}" for i in range(10) if i != 3]
    assert result.clean_ids("sum") == [f"item-{i}" for i in range(10, 20) if i not in (12, 15)] + [
        "short-2", "no-ref"]
    assert result.tasks["sum"].contaminated_ids() == ["item-12", "item-15", "short-1"]


def test_data_without_copies_are_clean(suite):
    rng = random.Random(3)
    train = [Example("t", {"code": _text(rng, 60)}, _text(rng, 20)) for _ in range(100)]
    result = check(suite, [TrainingSource("train", examples=train)])
    assert result.status == "clean"
    assert result.clean_ids("gen") == [f"item-{i}" for i in range(10)]
    assert result.sources[0].examples == 100 and len(result.sources[0].sha256) == 64


def test_without_training_data_contamination_is_unknown_not_clean(suite):
    result = check(suite, [])
    assert result.status == "unknown"
    assert result.reason == "no training data given"
    assert result.clean_ids("gen") is None
    assert all(t.status == "unknown" for t in result.tasks.values())
    assert result.to_json()["tasks"]["gen"]["clean_ids"] is None


def test_an_unreadable_source_makes_nothing_clean_but_keeps_what_was_found(suite):
    missing = TrainingSource("mined", unavailable="unknown reader 'mined'")
    result = check(suite, [missing, TrainingSource("other", examples=[])])
    assert result.status == "unknown" and "mined: unknown reader" in result.reason
    found = check(suite, [missing, TrainingSource("train", examples=_planted(suite))])
    assert found.status == "contaminated"
    assert found.tasks["gen"].status == "contaminated"
    assert found.tasks["sum"].status == "contaminated"
    assert found.clean_ids("gen") == [f"item-{i}" for i in range(10) if i != 3]


def test_case_and_comments_are_settings_recorded_with_the_result(suite):
    item = suite[0]
    shouted = Example("t", {"code": item.prompt.upper()}, "")
    assert check(suite, [TrainingSource("t", examples=[shouted])]).status == "clean"
    lowered = check(suite, [TrainingSource("t", examples=[shouted])], Settings(lowercase=True))
    assert lowered.tasks["gen"].contaminated["prompt"] == ["item-0"]
    assert lowered.to_json()["settings"] == {"n": 13, "whitespace": True, "comments": False, "lowercase": True}
    commented = Example("t", {"code": "\n".join(f"{line}  # note {i} on this line"
                                                for i, line in enumerate(item.prompt.splitlines()))}, "")
    assert check(suite, [TrainingSource("t", examples=[commented])]).status == "clean"
    stripped = check(suite, [TrainingSource("t", examples=[commented])], Settings(comments=True))
    assert stripped.tasks["gen"].contaminated["prompt"] == ["item-0"]


def test_n_is_a_setting_and_out_of_range_is_invalid(suite):
    by_id = {it.id: it for it in suite}
    eight = " ".join(words(by_id["item-4"].prompt, Settings())[:8])
    train = [TrainingSource("t", examples=[Example("t", {"code": eight}, "")])]
    assert check(suite, train).status == "clean"
    assert check(suite, train, Settings(n=8)).tasks["gen"].contaminated["prompt"] == ["item-4"]
    with pytest.raises(InvalidArgument, match=r"^n: 0 is outside 1\.\.64"):
        Settings(n=0)


def test_the_index_finds_what_a_naive_intersection_finds():
    """Small vocabulary, n=3: many true overlaps; the batched hash scan equals set intersection."""
    rng = random.Random(11)
    vocab = [f"t{i}" for i in range(12)]
    indexed = [[rng.choice(vocab) for _ in range(rng.randint(2, 15))] for _ in range(60)]
    scanned = [[rng.choice(vocab) for _ in range(rng.randint(0, 25))] for _ in range(80)]
    index = NgramIndex(3)
    for k, toks in enumerate(indexed):
        index.add(k, toks)
    index.freeze()
    got = {(h.key, h.text) for h in index.scan(scanned)}

    def grams(toks: list[str]) -> set[tuple[str, ...]]:
        return {tuple(toks[i: i + 3]) for i in range(len(toks) - 2)}

    want = {(k, t) for k, a in enumerate(indexed) for t, b in enumerate(scanned) if grams(a) & grams(b)}
    assert got == want and want
    first = {k: min(t for kk, t in want if kk == k) for k, _ in want}
    assert {(h.key, h.text) for h in index.scan(scanned, retire=True)} == set(first.items())
    assert index.scan(scanned) == []  # every key that matched is retired


def test_an_ngram_every_item_and_example_share_is_verified_once_per_item():
    """A licence header in every suite item and every training example: each item is found once,
    in the first example, and retired (the cost does not grow as items x examples)."""
    header = "licensed under the apache license version two point zero see the notice file for details"
    items = [SuiteText("t", f"i{k}", f"{header}\ndef f{k}(x): return x + {k}", "") for k in range(300)]
    train = [Example("t", {"code": f"{header}\nbody_{k} = {k}"}, "") for k in range(3000)]
    result = check(items, [TrainingSource("t", examples=train)])
    assert result.tasks["t"].contaminated["prompt"] == [f"i{k}" for k in range(300)]
    assert {m["prompt"].example for m in result.tasks["t"].matches.values()} == {0}
