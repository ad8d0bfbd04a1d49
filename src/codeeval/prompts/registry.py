"""Chat templates and task prompts as data, looked up by name with did-you-mean errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from codeeval.kit.errors import InvalidArgument, NotFound
from codeeval.kit.names import did_you_mean

Message = Mapping[str, str]
ROLES = ("system", "user", "assistant")


def checked_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Copies of ``messages``; a role outside :data:`ROLES` is INVALID_ARGUMENT naming the message."""
    msgs = [dict(m) for m in messages]
    for i, m in enumerate(msgs):
        if m.get("role") not in ROLES:
            raise InvalidArgument(f"role {m.get('role')!r} is not one of {', '.join(ROLES)}",
                                  field=f"messages[{i}].role")
    return msgs


def _sha256(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class ChatTemplate:
    """How chat messages become model input text.

    ``turn`` formats one message with ``{role}`` and ``{content}``; ``generation_prompt`` opens the
    assistant's turn; ``end_of_turn`` closes a turn and is the natural stop sequence for generation.
    ``default_system`` is inserted when the messages have no system message (Qwen2.5 and SmolLM2
    do this in their own chat templates).
    """

    name: str
    description: str
    turn: str
    generation_prompt: str
    end_of_turn: str
    default_system: str = ""
    role_names: Mapping[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return _sha256(asdict(self) | {"role_names": dict(self.role_names)})

    @property
    def stop(self) -> list[str]:
        return [self.end_of_turn.strip()] if self.end_of_turn.strip() else []

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        """Render ``messages``; with ``add_generation_prompt`` the text ends where the model answers."""
        msgs = checked_messages(messages)
        if self.default_system and (not msgs or msgs[0]["role"] != "system"):
            msgs.insert(0, {"role": "system", "content": self.default_system})
        text = "".join(
            self.turn.format(role=self.role_names.get(m["role"], m["role"]), content=m["content"]) for m in msgs
        )
        return text + (self.generation_prompt if add_generation_prompt else "")

    def render_training_example(self, prompt_messages: Sequence[Message], completion: str) -> tuple[str, str]:
        """(prompt text, completion text) for training: the completion is the assistant's turn,
        closed by ``end_of_turn``, so the model learns to stop where generation stops it."""
        return self.render(prompt_messages, add_generation_prompt=True), completion + self.end_of_turn


_CHATML_TURN = "<|im_start|>{role}\n{content}<|im_end|>\n"

TEMPLATES: dict[str, ChatTemplate] = {
    t.name: t
    for t in [
        ChatTemplate("chatml", "ChatML with no default system message.",
                     _CHATML_TURN, "<|im_start|>assistant\n", "<|im_end|>"),
        ChatTemplate("qwen2.5", "Qwen2.5(-Coder)-Instruct's ChatML with its default system message (the study's).",
                     _CHATML_TURN, "<|im_start|>assistant\n", "<|im_end|>",
                     default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant."),
        ChatTemplate("smollm2", "SmolLM2-Instruct's ChatML with its default system message.",
                     _CHATML_TURN, "<|im_start|>assistant\n", "<|im_end|>",
                     default_system="You are a helpful AI assistant named SmolLM, trained by Hugging Face"),
        ChatTemplate("human-assistant", "The study's evaluation template for translation (kept to reproduce it).",
                     "{role}: {content}\n\n", "Assistant:", "\n\nHuman:",
                     role_names={"system": "System", "user": "Human", "assistant": "Assistant"}),
        ChatTemplate("raw", "No template: the user content is the model input; for base (non-chat) models.",
                     "{content}", "", ""),
    ]
}


@dataclass(frozen=True)
class TaskPrompt:
    """A task's instruction, with ``{field}`` placeholders filled from the example."""

    name: str
    task: str
    user: str
    system: str = ""
    fields: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        return _sha256(asdict(self))

    def messages(self, **values: str) -> list[dict[str, str]]:
        missing = [f for f in self.fields if f not in values]
        if missing:
            raise InvalidArgument(f"task prompt {self.name!r} needs {', '.join(missing)}", field="fields")
        out = [{"role": "system", "content": self.system}] if self.system else []
        out.append({"role": "user", "content": self.user.format(**{f: values[f] for f in self.fields})})
        return out


TASK_PROMPTS: dict[str, TaskPrompt] = {
    p.name: p
    for p in [
        TaskPrompt("codegen-python", "codegen",
                   "Complete the following Python function. Return the whole function in one ```python block.\n\n"
                   "```python\n{prompt}\n```", fields=("prompt",)),
        TaskPrompt("codegen-java", "codegen",
                   "Complete the following Java method. Return the whole method in one ```java block.\n\n"
                   "```java\n{prompt}\n```", fields=("prompt",)),
        TaskPrompt("nl2code-java", "codegen",
                   "Write a Java method for this description. Return only the method in one ```java block.\n\n"
                   "{description}", fields=("description",)),
        TaskPrompt("nl2code-python", "codegen",
                   "Write a Python function for this description. Return only the function in one ```python block."
                   "\n\n{description}", fields=("description",)),
        TaskPrompt("translate-java-cs", "translation",
                   "Translate the following Java code to C#. Return only the C# code in one ```csharp block.\n\n"
                   "```java\n{code}\n```", fields=("code",)),
        TaskPrompt("translate-cs-java", "translation",
                   "Translate the following C# code to Java. Return only the Java code in one ```java block.\n\n"
                   "```csharp\n{code}\n```", fields=("code",)),
        TaskPrompt("summarize-python", "summarization",
                   "Summarize what the following Python function does in one sentence.\n\n```python\n{code}\n```",
                   fields=("code",)),
        TaskPrompt("summarize-java", "summarization",
                   "Summarize what the following Java method does in one sentence.\n\n```java\n{code}\n```",
                   fields=("code",)),
    ]
}


class _Hashed(Protocol):
    @property
    def sha256(self) -> str: ...


def _lookup(kind: str, name: str, table: Mapping[str, object]) -> object:
    if name in table:
        return table[name]
    raise NotFound(f"unknown {kind} {name!r}{did_you_mean(name, table)}", field=kind)


def get_template(name: str) -> ChatTemplate:
    return _lookup("template", name, TEMPLATES)  # type: ignore[return-value]


def get_task_prompt(name: str) -> TaskPrompt:
    return _lookup("task_prompt", name, TASK_PROMPTS)  # type: ignore[return-value]


def list_templates() -> list[ChatTemplate]:
    return list(TEMPLATES.values())


def list_task_prompts() -> list[TaskPrompt]:
    return list(TASK_PROMPTS.values())


def prompt_sha256(template: _Hashed, task_prompt: TaskPrompt | None = None) -> str:
    """The hash recorded with a result: the chat template and, if any, the task prompt."""
    return _sha256({"template": template.sha256, "task_prompt": task_prompt.sha256 if task_prompt else None})
