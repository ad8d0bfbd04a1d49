"""The model's own chat template (a real tokenizer's apply_chat_template) and template identity by
definition and by rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeeval.kit.errors import FailedPrecondition, InvalidArgument
from codeeval.prompts import ModelTemplate, get_template, model_template, rendered_sha256, resolve_template, text_sha256

SMOLLM2_JINJA = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
NO_SYSTEM_JINJA = ("{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not "
                   "supported') }}{% endif %}<{{ m['role'] }}>{{ m['content'] }}</s>{% endfor %}"
                   "{% if add_generation_prompt %}<assistant>{% endif %}")


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    from codeeval.models import tiny_llama

    return AutoTokenizer.from_pretrained(tiny_llama(Path(tmp_path_factory.mktemp("tiny"))))


def _with(tokenizer, jinja: str | None):  # type: ignore[no-untyped-def]
    tokenizer.chat_template = jinja
    return tokenizer


def test_base_model_has_no_template_and_resolves_to_raw(tokenizer) -> None:  # type: ignore[no-untyped-def]
    assert model_template(_with(tokenizer, None)) is None
    assert resolve_template("", tokenizer).name == "raw" and resolve_template("model", tokenizer).name == "raw"
    assert resolve_template("human-assistant", tokenizer) == get_template("human-assistant")


def test_model_template_renders_with_the_tokenizer_and_is_named_by_its_hash(tokenizer) -> None:  # type: ignore[no-untyped-def]
    own = model_template(_with(tokenizer, SMOLLM2_JINJA))
    assert isinstance(own, ModelTemplate)
    assert own.sha256 == text_sha256(SMOLLM2_JINJA) and own.name == f"model:{own.sha256[:12]}"
    msgs = [{"role": "user", "content": "hi"}]
    assert own.render(msgs) == tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    # The registry's smollm2 is another definition of the same format: equal renderings, other hashes.
    assert own.render(msgs) == get_template("smollm2").render(msgs)
    assert own.sha256 != get_template("smollm2").sha256
    assert rendered_sha256(own) == rendered_sha256(get_template("smollm2"))
    assert rendered_sha256(own) != rendered_sha256(get_template("chatml"))
    prompt, completion = own.render_training_example(msgs, "hello")
    assert prompt.endswith("<|im_start|>assistant\n") and completion == "hello<|im_end|>\n"


def test_a_template_that_does_not_render_is_a_clear_error(tokenizer) -> None:  # type: ignore[no-untyped-def]
    own = model_template(_with(tokenizer, NO_SYSTEM_JINJA))
    assert own is not None
    assert own.render([{"role": "user", "content": "u"}]) == "<user>u</s><assistant>"
    with pytest.raises(FailedPrecondition, match=r"model's chat template \(model:[0-9a-f]{12}\) does not render.*"
                                                 r"System role not supported"):
        own.render([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}])
    with pytest.raises(InvalidArgument, match=r"messages\[0\]\.role"):
        own.render([{"role": "robot", "content": "u"}])
    # A refusal is part of the format: the rendering hash still exists and differs from ChatML's.
    assert rendered_sha256(own) != rendered_sha256(get_template("chatml"))
