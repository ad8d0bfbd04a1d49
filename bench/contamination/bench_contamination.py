"""Contamination check speed: a synthetic mixture of 40,000 training examples against a 1,000-item
suite (the issue's size; aim: under a minute on a 2-core machine), beside a naive baseline in the
same run.

Data: code-like texts drawn from a 3,000-word vocabulary with shared boilerplate lines (so short
phrases repeat, as in real code, but no 13 words do by chance); prompts and targets of 40-160
words. 25 suite prompts and 25 suite references are planted verbatim into training examples, and the
run checks that exactly those are found (the speed of a check that finds nothing is not the point).

Ours: :func:`codeeval.contamination.check` (the suite's n-grams indexed once, training streamed in
vectorised batches, exact check by dictionary). Baseline: the straightforward per-pair comparison,
each training example's n-gram set intersected with each item's (items' sets built once) plus an
exact comparison per pair, on the first ``--baseline-examples`` examples, extrapolated linearly to the
whole mixture (its cost is exactly linear in the number of examples). Prints both (wall and CPU
seconds: on a shared machine the CPU time is the comparable one) and both ratios.

    .venv/bin/python bench/contamination/bench_contamination.py                 # 40,000 x 1,000
    .venv/bin/python bench/contamination/bench_contamination.py --examples 4000 # quicker
"""

from __future__ import annotations

import argparse
import random
import time

from codeeval.contamination import Settings, SuiteText, TrainingSource, check
from codeeval.contamination.ngrams import exact_key, tokens, words
from codeeval.data import Example

BOILERPLATE = ["for i in range(len(items)):", "if value is None:", "return result", "self.count += 1",
               "except ValueError:", "public static void main(String[] args) {", "}", "import os"]
PLANTED = 25


def _text(rng: random.Random, vocab: list[str], n_words: int) -> str:
    lines: list[str] = []
    words_left = n_words
    while words_left > 0:
        # never two boilerplate lines in a row: every 13-gram holds a random word, so chance overlaps
        # between unrelated texts are negligible and the planted items are the only true findings
        if rng.random() < 0.25 and lines and lines[-1] not in BOILERPLATE:
            lines.append(rng.choice(BOILERPLATE))
            words_left -= 3
            continue
        a, b, c = rng.choice(vocab), rng.choice(vocab), rng.choice(vocab)
        lines.append(f"    {a} = {b}({c}, {rng.randint(0, 99)})")
        words_left -= 4
    return "\n".join(lines)


def make_data(n_items: int, n_examples: int, seed: int) -> tuple[list[SuiteText], list[Example], set, set]:
    rng = random.Random(seed)
    vocab = [f"{rng.choice(['get', 'set', 'calc', 'load', 'x', 'val', 'item'])}_{i}" for i in range(3000)]
    items = [SuiteText(f"task{i % 6}", f"item-{i}", _text(rng, vocab, rng.randint(40, 120)),
                       _text(rng, vocab, rng.randint(30, 100))) for i in range(n_items)]
    examples = [Example("t", {"code": _text(rng, vocab, rng.randint(40, 160))}, _text(rng, vocab, rng.randint(20, 80)))
                for _ in range(n_examples)]
    prompt_ids = set(rng.sample(range(n_items), PLANTED))
    ref_ids = set(rng.sample(range(n_items), PLANTED))
    for i in prompt_ids:
        k = rng.randrange(n_examples)
        examples[k] = Example("t", {"code": examples[k].fields["code"] + "\n" + items[i].prompt}, examples[k].target)
    for i in ref_ids:
        k = rng.randrange(n_examples)
        examples[k] = Example("t", examples[k].fields, items[i].reference)
    return items, examples, {items[i].id for i in prompt_ids}, {items[i].id for i in ref_ids}


def naive(items: list[SuiteText], examples: list[Example], settings: Settings) -> set[tuple[str, str]]:
    """Per pair: n-gram set intersection and exact comparison (items' sets and keys built once)."""
    n = settings.n

    def grams(text: str) -> set[tuple[str, ...]]:
        w = words(text, settings)
        return {tuple(w[i: i + n]) for i in range(len(w) - n + 1)}

    sides = [(it.id, side, grams(text), exact_key(text, tokens(text, settings), settings))
             for it in items for side, text in (("prompt", it.prompt), ("reference", it.reference))]
    found: set[tuple[str, str]] = set()
    for ex in examples:
        texts = [ex.fields["code"], ex.target]
        ex_grams = grams(texts[0]) | grams(texts[1])
        ex_keys = {exact_key(t, tokens(t, settings), settings) for t in texts}
        for item_id, side, item_grams, key in sides:
            if not item_grams.isdisjoint(ex_grams) or key in ex_keys:
                found.add((item_id, side))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--examples", type=int, default=40_000)
    parser.add_argument("--baseline-examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    settings = Settings()
    items, examples, want_prompt, want_ref = make_data(args.items, args.examples, args.seed)

    t0, c0 = time.perf_counter(), time.process_time()
    result = check(items, [TrainingSource("synthetic", examples=examples)], settings)
    ours, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    got_prompt = {i for t in result.tasks.values() for i in t.contaminated["prompt"]}
    got_ref = {i for t in result.tasks.values() for i in t.contaminated["reference"]}
    exact = got_prompt == want_prompt and got_ref == want_ref

    subset = examples[: args.baseline_examples]
    t0, c0 = time.perf_counter(), time.process_time()
    naive_found = naive(items, subset, settings)
    naive_subset, naive_cpu = time.perf_counter() - t0, time.process_time() - c0
    ours_subset = check(items, [TrainingSource("subset", examples=subset)], settings)
    ours_found = {(i, s) for t in ours_subset.tasks.values() for s in ("prompt", "reference")
                  for i in t.contaminated[s]}
    naive_total = naive_subset * len(examples) / max(1, len(subset))

    print(f"suite {len(items)} items, training {len(examples)} examples, n={settings.n}")
    print(f"ours:  {ours:8.1f} s for the whole mixture (CPU {ours_cpu:.1f} s); planted {len(want_prompt)} "
          f"prompts + {len(want_ref)} references, found exactly: {exact}")
    print(f"naive: {naive_total:8.1f} s extrapolated from {len(subset)} examples ({naive_subset:.1f} s, "
          f"CPU {naive_cpu:.1f} s); "
          f"same findings on them: {naive_found == ours_found}")
    naive_cpu_total = naive_cpu * len(examples) / max(1, len(subset))
    print(f"ratio naive / ours: {naive_total / ours:.0f}x wall, {naive_cpu_total / max(ours_cpu, 1e-9):.0f}x CPU")


if __name__ == "__main__":
    main()
