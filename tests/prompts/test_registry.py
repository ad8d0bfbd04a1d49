"""The prompt-template registry: rendering, hashing, did-you-mean, training/eval consistency."""

from __future__ import annotations

import pytest

from codeeval.kit.errors import InvalidArgument, NotFound
from codeeval.prompts import get_task_prompt, get_template, list_task_prompts, list_templates, prompt_sha256


def test_chatml_renders_like_the_models_own_template():
    text = get_template("qwen2.5").render([{"role": "user", "content": "hi"}])
    assert text == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    )
    own_system = get_template("qwen2.5").render([{"role": "system", "content": "S"}, {"role": "user", "content": "u"}])
    assert own_system.startswith("<|im_start|>system\nS<|im_end|>\n") and "Qwen" not in own_system


def test_human_assistant_is_a_different_template_with_a_different_hash():
    chatml, human = get_template("chatml"), get_template("human-assistant")
    msgs = [{"role": "user", "content": "translate"}]
    assert human.render(msgs) == "Human: translate\n\nAssistant:"
    assert chatml.sha256 != human.sha256
    tp = get_task_prompt("translate-java-cs")
    assert prompt_sha256(chatml, tp) != prompt_sha256(human, tp)


def test_training_example_ends_with_the_stop_sequence_generation_uses():
    t = get_template("smollm2")
    msgs = get_task_prompt("summarize-python").messages(code="def f(): pass")
    prompt, completion = t.render_training_example(msgs, "Does nothing.")
    assert prompt == t.render(msgs)  # the generator renders exactly the training prompt
    assert completion == "Does nothing.<|im_end|>" and t.stop == ["<|im_end|>"]


def test_hashes_are_stable_and_distinct():
    hashes = {t.sha256 for t in list_templates()} | {p.sha256 for p in list_task_prompts()}
    assert len(hashes) == len(list_templates()) + len(list_task_prompts())
    assert get_template("chatml").sha256 == get_template("chatml").sha256
    assert len(get_template("chatml").sha256) == 64


def test_unknown_names_suggest_the_closest():
    with pytest.raises(NotFound, match="did you mean 'smollm2'"):
        get_template("smolm2")
    with pytest.raises(NotFound, match="did you mean 'translate-java-cs'"):
        get_task_prompt("translate-java-c")


def test_bad_roles_and_missing_fields_name_the_field():
    with pytest.raises(InvalidArgument, match=r"messages\[0\].role"):
        get_template("chatml").render([{"role": "robot", "content": "x"}])
    with pytest.raises(InvalidArgument, match="needs code"):
        get_task_prompt("summarize-java").messages(prompt="x")


def test_raw_template_passes_text_through():
    assert get_template("raw").render([{"role": "user", "content": "def f():"}]) == "def f():"
    assert get_template("raw").stop == []
