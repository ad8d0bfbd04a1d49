"""The model's own chat template: the tokenizer's ``chat_template`` rendered with
``apply_chat_template``; and how any two templates are compared.

Names. ``""`` and ``"model"`` mean "the model's own": the tokenizer's template when it has one, else
no template (``raw``) because a base model has none. A registry name (``smollm2``, ``human-assistant``,
...) is an explicit override. A result records the model's template as ``model:<first 12 hex of the
sha256 of the template string>`` with the full sha256 beside it.

Identity. Two templates are the same when their definitions hash equal (``sha256``) or when they
render a fixed probe conversation to the same text (``rendered_sha256``): the registry's ``smollm2``
and SmolLM2-Instruct's own Jinja template are different definitions of one format, and an adapter
trained with one may be served with the other. Cost: two renders of four short messages.

This module never imports transformers: the tokenizer is any object with ``chat_template`` and
``apply_chat_template(messages, tokenize=False, add_generation_prompt=...)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from codeeval.kit.errors import FailedPrecondition
from codeeval.prompts.registry import Message, checked_messages, get_template

MODEL = "model"
# A conversation every template can render (system first, alternating user/assistant): its rendering
# identifies a template's format independently of how the template is written.
PROBE_WITH_SYSTEM = ({"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
                     {"role": "assistant", "content": "A1"}, {"role": "user", "content": "U2"})
PROBE_WITHOUT_SYSTEM = PROBE_WITH_SYSTEM[1:]


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Template(Protocol):
    """What the generator and the trainer need from a chat template (registry or the model's own)."""

    @property
    def name(self) -> str: ...

    @property
    def sha256(self) -> str: ...

    @property
    def stop(self) -> list[str]: ...

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str: ...

    def render_training_example(self, prompt_messages: Sequence[Message], completion: str) -> tuple[str, str]: ...


def rendered_sha256(template: Template) -> str:
    """sha256 of the probe conversations rendered with a generation prompt; a probe the template
    refuses (some templates reject a system turn) contributes its error class instead."""
    parts = []
    for probe in (PROBE_WITH_SYSTEM, PROBE_WITHOUT_SYSTEM):
        try:
            parts.append(template.render(list(probe), add_generation_prompt=True))
        except Exception as exc:  # noqa: BLE001 - the refusal itself is part of the format
            parts.append(f"<refused {type(exc).__name__}>")
    return text_sha256("\x00".join(parts))


class ChatTokenizer(Protocol):
    chat_template: Any

    def apply_chat_template(self, conversation: Any, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class ModelTemplate:
    """The tokenizer's own chat template. ``render`` raises FAILED_PRECONDITION naming the template
    and Jinja's error when the template does not render the messages (a template that rejects a
    system turn, say)."""

    tokenizer: ChatTokenizer
    source: str

    @property
    def sha256(self) -> str:
        return text_sha256(self.source)

    @property
    def name(self) -> str:
        return f"{MODEL}:{self.sha256[:12]}"

    @property
    def stop(self) -> list[str]:
        return []  # the engines stop at the tokenizer's end-of-sequence token, which closes the turn

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        msgs = checked_messages(messages)
        try:
            text = self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=add_generation_prompt)
        except Exception as exc:  # noqa: BLE001 - Jinja raises many types; all mean "does not render"
            raise FailedPrecondition(f"the model's chat template ({self.name}) does not render these messages: "
                                     f"{type(exc).__name__}: {exc}", field="template") from None
        if not isinstance(text, str):
            raise FailedPrecondition(f"the model's chat template ({self.name}) rendered {type(text).__name__}, "
                                     "not text", field="template")
        return text

    def render_training_example(self, prompt_messages: Sequence[Message], completion: str) -> tuple[str, str]:
        """(prompt text, completion text): the completion is what the template adds for the assistant's
        turn (its end-of-turn token included), so training and generation see one format."""
        prompt = self.render(prompt_messages, add_generation_prompt=True)
        full = self.render([*prompt_messages, {"role": "assistant", "content": completion}],
                           add_generation_prompt=False)
        if not full.startswith(prompt):
            raise FailedPrecondition(f"the model's chat template ({self.name}) renders the prompt differently once "
                                     "the answer is added; train with a registry template", field="template")
        return prompt, full[len(prompt):]


def model_template(tokenizer: Any) -> ModelTemplate | None:
    """The tokenizer's template, or None for a base model (no ``chat_template``)."""
    source = getattr(tokenizer, "chat_template", None)
    if isinstance(source, dict):  # some tokenizers keep several named templates
        source = source.get("default")
    return ModelTemplate(tokenizer, source) if isinstance(source, str) and source.strip() else None


def resolve_template(name: str, tokenizer: Any | None) -> Template:
    """``""``/``"model"`` -> the model's own (``raw`` for a base model); else the registry's template."""
    if name in ("", MODEL) or name.startswith(f"{MODEL}:"):
        own = model_template(tokenizer) if tokenizer is not None else None
        return own if own is not None else get_template("raw")
    return get_template(name)


def describe(name: str, sha256: str) -> str:
    return f"{name!r} (sha256 {sha256[:12] or 'unknown'})"
