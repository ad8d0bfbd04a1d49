"""The check on public data: CodeXGLUE Java<->C# test pairs against its training split, compared
with an independent computation (the training split's whole set of 13-grams and of normalised lines)."""

from __future__ import annotations

import pytest

from codeeval.contamination import Settings, TrainingSource, check, suite_texts
from codeeval.contamination.ngrams import exact_key, tokens, words
from codeeval.data import Source, read_items
from codeeval.kit.paths import datasets_dir

pytestmark = pytest.mark.slow

TRANS = datasets_dir() / "codexglue_code_to_code_trans"


@pytest.mark.skipif(not (TRANS / "train.java-cs.txt.java").is_file(),
                    reason="needs CodeXGLUE code-to-code-trans in the datasets folder ($CODEEVAL_DATASETS_DIR)")
def test_codexglue_test_items_found_in_its_training_split_are_exactly_the_independent_ones() -> None:
    settings = Settings()
    train = Source("codexglue_translation", TRANS / "train.java-cs.txt", options={"direction": "java-cs"})
    test = read_items(Source("codexglue_translation", TRANS / "test.java-cs.txt", options={"direction": "java-cs"}))
    result = check(suite_texts({"java-cs": test}), [TrainingSource("train", train)], settings)

    train_grams: set[tuple[str, ...]] = set()
    train_keys: set[str] = set()
    for item in read_items(train):
        for text in (item.fields["code"], item.reference):
            w = words(text, settings)
            train_grams.update(tuple(w[i: i + 13]) for i in range(len(w) - 12))
            train_keys.add(exact_key(text, tokens(text, settings), settings))

    def found(text: str) -> bool:
        w = words(text, settings)
        grams = {tuple(w[i: i + 13]) for i in range(len(w) - 12)}
        return not grams.isdisjoint(train_grams) or exact_key(text, tokens(text, settings), settings) in train_keys

    task = result.tasks["java-cs"]
    assert task.contaminated["prompt"] == [it.id for it in test if found(it.fields["code"])]
    assert task.contaminated["reference"] == [it.id for it in test if found(it.reference)]
    assert task.contaminated["prompt"] and task.contaminated["reference"]  # the split is not clean
    assert result.sources[0].examples == 10295 and result.status == "contaminated"
