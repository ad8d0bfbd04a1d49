"""The real trainer's artifact: a tiny Llama trained two steps by the trainer's Recipe; its metadata
reads as known provenance, and the check finds a suite item planted in its translation data. The
trainer is imported in this process, so its ``mined`` reader is registered and both sources are read
(test_provenance covers a process without it: "unknown")."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeeval.contamination import check_adapter, read_provenance
from codeeval.data import Item

pytestmark = pytest.mark.slow

JAVA = [f"public int compute{i}(int a, int b) {{ int total = a * {i} + b; return total - helper{i}(a, b); }}"
        for i in range(12)]
CS = [f"public int Compute{i}(int a, int b) {{ int total = a * {i} + b; return total - Helper{i}(a, b); }}"
      for i in range(12)]


def test_an_adapter_the_trainer_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("peft")
    recipe = pytest.importorskip("codeeval.trainer.recipe")
    config = pytest.importorskip("codeeval.trainer.recipe_schema")
    from codeeval.models import tiny_llama

    trans = tmp_path / "datasets" / "codexglue_code_to_code_trans"
    trans.mkdir(parents=True)
    (trans / "valid.java-cs.txt.java").write_text("\n".join(JAVA) + "\n")
    (trans / "valid.java-cs.txt.cs").write_text("\n".join(CS) + "\n")
    monkeypatch.setenv("CODEEVAL_DATASETS_DIR", str(tmp_path / "datasets"))
    model = tiny_llama(tmp_path / "tiny")
    cfg = config.load_config("tiny-multitask-lora", {"model.base": str(model), "train.max_steps": "2",
                                                     "train.eval_every": "0", "data.tasks.0.source.limit": "10"})
    result = recipe.run(cfg, tmp_path / "job")
    adapter = Path(result["artifact"]["path"])

    prov = read_provenance(adapter)
    assert prov.status == "known" and prov.method == "lora" and prov.template == "smollm2"
    assert prov.base_model_sha256 == result["artifact"]["base_model_sha256"]
    assert {(m.task, m.effective) for m in prov.mixture} == {(c["task"], c["effective"]) for c in result["mixture"]}
    assert prov.seed == 0 and prov.cost is not None and prov.cost["trainable_parameters"] > 0

    planted = Item("planted", {"code": JAVA[3]}, reference="unrelated reference text")
    beyond_limit = Item("beyond", {"code": JAVA[11]}, reference="another unrelated text")
    found = check_adapter({"translate": [planted, beyond_limit]}, adapter)
    assert found.status == "contaminated"
    assert found.tasks["translate"].contaminated == {"prompt": ["planted"], "reference": []}
    # the recorded limits are honoured (10 pairs; at most 8 mined functions) and nothing failed
    assert [(s.label, s.examples, s.error) for s in found.sources] == [
        ("translate-java-cs (codexglue_translation)", 10, ""), ("summarize-python (mined)", 8, "")]
    # the trainer's data hashes are of the examples it read: the check read exactly those
    assert prov.data_sha256 == {"translate-java-cs": found.sources[0].sha256,
                                "summarize-python": found.sources[1].sha256}
    fresh = check_adapter({"translate": [beyond_limit]}, adapter)
    assert fresh.status == "clean" and fresh.clean_ids("translate") == ["beyond"]
