"""Shipped configs, overrides whitelist, did-you-mean, and the study's settings."""

from __future__ import annotations

import pytest

from codeeval.kit.errors import InvalidArgument, NotFound
from codeeval.trainer.recipe_schema import configs_dir, list_configs, load_config


def test_every_shipped_config_validates() -> None:
    names = list_configs()
    assert "smollm2-multitask-qlora-cpu" in names
    for name in names:
        load_config(name)


def test_every_knob_has_a_reason_comment() -> None:
    for path in configs_dir().glob("*.yaml"):
        lines = path.read_text().splitlines()
        assert lines[0].startswith("#"), f"{path.name}: first line must say what the config is"
        for line in lines:
            stripped = line.strip()
            scalar = ":" in stripped and not stripped.endswith(":") and not stripped.startswith(("#", "-"))
            if scalar and not stripped.startswith(("extends", "description", "name:", "task_prompt", "reader",
                                                   "hf_config", "fields", "target", "eval_source", "source",
                                                   "language", "direction", "split", "path", "hf_name")):
                assert "#" in line, f"{path.name}: knob without a reason: {line!r}"


@pytest.mark.parametrize("size", ["0.5B", "1.5B", "3B"])
def test_study_configs_match_the_paper(size: str) -> None:
    s = size.lower()
    for regime in ("codegen-qlora", "translation-qlora", "summarization-qlora", "multitask-qlora",
                   "multitask-full"):
        cfg = load_config(f"qwen2.5-coder-{s}-{regime}")
        assert cfg.model.base == f"Qwen/Qwen2.5-Coder-{size}-Instruct"
        assert cfg.model.template == "qwen2.5"
        assert cfg.train.learning_rate == 1e-4 and cfg.train.scheduler == "cosine"
        assert cfg.train.warmup_steps == 1000 and cfg.train.batch_size * cfg.train.grad_accum == 32
        assert cfg.train.epochs == 5 and cfg.train.early_stopping_patience == 3
        assert cfg.data.max_length == 512 and cfg.data.packing and cfg.data.mixing.strategy == "natural"
        if regime.endswith("qlora"):
            m = cfg.method
            assert m.kind == "qlora" and m.quant.quant_type == "nf4" and m.quant.double_quant
            assert (m.lora.r, m.lora.alpha, m.lora.dropout) == (8, 16, 0.1)
            assert set(m.lora.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                                  "down_proj"}
            assert cfg.train.optimizer == "adamw_8bit"
        else:
            assert cfg.method.kind == "full"
    assert len(load_config(f"qwen2.5-coder-{s}-multitask-qlora").data.tasks) == 6


def test_unknown_config_suggests_the_closest() -> None:
    with pytest.raises(NotFound, match="did you mean 'smollm2-multitask-qlora-cpu'"):
        load_config("smollm2-multitask-qlora")


def test_override_outside_whitelist_names_the_key() -> None:
    with pytest.raises(InvalidArgument, match=r"overrides\[method.kind\]"):
        load_config("smollm2-multitask-qlora-cpu", {"method.kind": "full"})
    with pytest.raises(InvalidArgument, match=r"overrides\[data.tasks.0.source.path\]"):
        load_config("smollm2-multitask-qlora-cpu", {"data.tasks.0.source.path": "/etc"})


def test_bad_override_value_names_the_field() -> None:
    with pytest.raises(InvalidArgument, match=r"train.max_steps"):
        load_config("smollm2-multitask-qlora-cpu", {"train.max_steps": "0"})
    with pytest.raises(InvalidArgument, match=r"data.mixing.strategy"):
        load_config("smollm2-multitask-qlora-cpu", {"data.mixing.strategy": "balanced"})


def test_overrides_apply_with_types() -> None:
    cfg = load_config("smollm2-multitask-qlora-cpu", {"train.max_steps": "5", "method.lora.r": "4",
                                                      "data.tasks.1.source.limit": "7",
                                                      "data.completion_only": "false"})
    assert cfg.train.max_steps == 5 and cfg.method.lora.r == 4
    assert cfg.data.tasks[1].source.limit == 7 and cfg.data.completion_only is False
