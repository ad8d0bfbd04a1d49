"""The recipe on a tiny random Llama, in process: training, artifact metadata, exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeeval.prompts import get_template
from codeeval.trainer import checkpoint
from codeeval.trainer.artifacts import METADATA_FILE
from codeeval.trainer.recipe import Recipe, run
from codeeval.trainer.recipe_schema import load_config

pytest.importorskip("peft")


def _cfg(tiny_model: Path, **extra: str):  # type: ignore[no-untyped-def]
    return load_config("tiny-multitask-lora", {"model.base": str(tiny_model), **extra})


def _losses(workdir: Path) -> dict[int, float]:
    out = {}
    for line in (workdir / "events.jsonl").read_text().splitlines():
        ev = json.loads(line)
        if ev["kind"] == "progress":
            out[ev["step"]] = ev["loss"]
    return out


def test_lora_run_writes_adapter_with_metadata(tiny_model: Path, tmp_path: Path) -> None:
    result = run(_cfg(tiny_model), tmp_path)
    assert result["outcome"] == "completed" and result["total_steps"] == 12
    art = Path(result["artifact"]["path"])
    assert (art / "adapter_model.safetensors").exists() and (art / "adapter_config.json").exists()
    meta = json.loads((art / METADATA_FILE).read_text())
    assert meta["template"] == "smollm2" and meta["template_sha256"] == get_template("smollm2").sha256
    assert meta["base_model"] == str(tiny_model) and len(meta["base_model_sha256"]) == 64
    assert set(meta["task_prompts"]) == {"translate-java-cs", "summarize-python"}
    assert {m["task"] for m in meta["mixture"]} == {"translate-java-cs", "summarize-python"}
    cost = meta["cost"]
    assert 0 < cost["trainable_parameters"] < cost["total_parameters"]
    assert cost["artifact_size_bytes"] > 0 and cost["peak_memory_bytes"] > 0 and cost["wall_seconds"] > 0
    assert meta["config"]["method"]["kind"] == "lora" and meta["seed"] == 0
    assert meta["compute_dtype"] == meta["config"]["model"]["dtype"]  # what the matmuls ran in, recorded
    assert "eval_loss" in meta["metrics"] and meta["versions"]["torch"].startswith("2.")
    losses = _losses(tmp_path)
    assert len(losses) == 12 and losses[12] < losses[1]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-000008", "step-000012"]


def test_resume_after_stop_matches_uninterrupted_run(tiny_model: Path, tmp_path: Path) -> None:
    straight = run(_cfg(tiny_model), tmp_path / "straight")

    interrupted = Recipe(_cfg(tiny_model), tmp_path / "resumed")
    interrupted.setup()
    emit = interrupted.events.emit

    def stop_at_step_6(kind: str, **payload: object) -> None:
        emit(kind, **payload)
        if kind == "progress" and payload["step"] == 6:
            interrupted.stop_requested = True

    interrupted.events.emit = stop_at_step_6  # type: ignore[method-assign]
    assert interrupted.train() == "cancelled"
    interrupted.cleanup()
    assert checkpoint.latest(tmp_path / "resumed" / "checkpoints").name == "step-000006"  # type: ignore[union-attr]

    resumed = run(_cfg(tiny_model), tmp_path / "resumed")
    assert resumed["resumed_from_step"] == 6
    assert resumed["metrics"]["train_loss"] == pytest.approx(straight["metrics"]["train_loss"], rel=1e-5)
    assert resumed["metrics"]["eval_loss"] == pytest.approx(straight["metrics"]["eval_loss"], rel=1e-5)
    assert _losses(tmp_path / "resumed")[12] == pytest.approx(_losses(tmp_path / "straight")[12], rel=1e-5)


def test_completion_only_masks_the_prompt(tiny_model: Path, tmp_path: Path) -> None:
    masked = Recipe(_cfg(tiny_model), tmp_path / "a")
    masked.setup()
    full = Recipe(_cfg(tiny_model, **{"data.completion_only": "false"}), tmp_path / "b")
    full.setup()
    a, b = masked.train_set[0], full.train_set[0]
    assert a.input_ids == b.input_ids
    n_prompt = sum(1 for x in a.labels if x == -100)
    assert 0 < n_prompt < len(a.labels) and all(x != -100 for x in b.labels)
    text = masked.tokenizer.decode([t for t, lab in zip(a.input_ids, a.labels, strict=True) if lab != -100])
    assert text.endswith("<|im_end|>")
    masked.cleanup()
    full.cleanup()


def test_full_finetuning_saves_a_model(tiny_model: Path, tmp_path: Path) -> None:
    cfg = load_config("smollm2-multitask-full-cpu", {"model.base": str(tiny_model), "train.max_steps": "3",
                                                     "data.max_length": "64", "data.tasks.0.source.limit": "8",
                                                     "data.tasks.1.source.limit": "8",
                                                     "data.tasks.2.source.limit": "4"})
    result = run(cfg, tmp_path)
    art = Path(result["artifact"]["path"])
    assert result["artifact"]["kind"] == "full" and (art / "model.safetensors").exists()
    assert result["cost"]["trainable_parameters"] == result["cost"]["total_parameters"]


def test_equal_mixing_counts_are_logged_stored_and_trained(tiny_model: Path, tmp_path: Path) -> None:
    cfg = _cfg(tiny_model, **{"data.mixing.strategy": "equal", "data.mixing.size": "20", "train.max_steps": "2"})
    result = run(cfg, tmp_path)
    counts = {c["task"]: c for c in result["mixture"]}
    assert {t: c["effective"] for t, c in counts.items()} == {"translate-java-cs": 10, "summarize-python": 10}
    assert counts["summarize-python"]["available"] < 10 <= counts["translate-java-cs"]["available"]
    meta = json.loads((Path(result["artifact"]["path"]) / METADATA_FILE).read_text())
    assert meta["mixture"] == result["mixture"]
    logged = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e for e in logged if e["kind"] == "mixture"][0]["counts"] == result["mixture"]


def test_qlora_quantizes_the_base_and_trains_only_lora(tiny_model: Path, tmp_path: Path) -> None:
    cfg = load_config("smollm2-translate-qlora-cpu", {"model.base": str(tiny_model), "train.max_steps": "2",
                                                      "data.max_length": "64", "data.tasks.0.source.limit": "8"})
    recipe = Recipe(cfg, tmp_path)
    recipe.setup()
    try:
        assert any(type(m).__name__ == "Linear4bit" for m in recipe.model.modules())
        assert all("lora_" in n for n, p in recipe.model.named_parameters() if p.requires_grad)
        assert recipe.train() == "completed"
    finally:
        recipe.cleanup()
