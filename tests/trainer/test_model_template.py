"""The trainer records the template an adapter was trained with: a registry template by name, hash
and rendering hash; the model's own template (``model.template=model``) as ``model:<sha12>`` with the
sha256 of the tokenizer's template string; the generator then serves the adapter with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from codeeval.prompts import get_template, rendered_sha256, text_sha256
from codeeval.trainer.artifacts import METADATA_FILE
from codeeval.trainer.recipe import run
from codeeval.trainer.recipe_schema import load_config

pytest.importorskip("peft")
CHATML_JINJA = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _chat_model(tiny_model: Path, out: Path) -> Path:
    from transformers import AutoTokenizer

    target = out / tiny_model.name
    shutil.copytree(tiny_model, target)
    tok = AutoTokenizer.from_pretrained(target)
    tok.chat_template = CHATML_JINJA
    tok.save_pretrained(target)
    return target


def _train(base: Path, work: Path, template: str) -> dict:  # type: ignore[type-arg]
    cfg = load_config("tiny-multitask-lora", {"model.base": str(base), "train.max_steps": "2",
                                              "train.eval_every": "0"})
    cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"template": template})})
    result = run(cfg, work)
    assert result["outcome"] == "completed"
    return json.loads((Path(result["artifact"]["path"]) / METADATA_FILE).read_text())


def test_model_and_registry_templates_are_recorded(tiny_model: Path, tmp_path: Path) -> None:
    base = _chat_model(tiny_model, tmp_path / "chat")
    own = _train(base, tmp_path / "own", "model")
    sha = text_sha256(CHATML_JINJA)
    assert own["template"] == f"model:{sha[:12]}" and own["template_sha256"] == sha
    # This template renders ChatML without a default system message: the registry's chatml.
    assert own["template_rendered_sha256"] == rendered_sha256(get_template("chatml"))

    registry = _train(base, tmp_path / "registry", "human-assistant")
    human = get_template("human-assistant")
    assert registry["template"] == "human-assistant" and registry["template_sha256"] == human.sha256
    assert registry["template_rendered_sha256"] == rendered_sha256(human)
