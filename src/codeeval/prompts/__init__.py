"""The one prompt-template registry shared by the trainer, the generator and ``codeeval bench``.

The study trained translation with ChatML and evaluated it with a "Human:/Assistant:" template.
Here a model is trained and evaluated through the same two objects, and their sha256 is recorded
with every training artifact and every generation, so a mismatch is impossible to miss:

* a :class:`ChatTemplate` turns chat messages into the model's input text
  (``chatml``, ``qwen2.5``, ``smollm2``, ``human-assistant``, ``raw``);
* a :class:`TaskPrompt` turns a task's fields (code, description, ...) into chat messages
  (``codegen-python``, ``translate-java-cs``, ``summarize-python``, ...).

Both are plain data; :func:`prompt_sha256` hashes the pair used for one result.

By default a model is prompted with its OWN template (:mod:`codeeval.prompts.model`: the tokenizer's
``apply_chat_template``, raw text for base models); the registry's templates are explicit overrides.
"""

from codeeval.prompts.model import (
    MODEL,
    ModelTemplate,
    Template,
    model_template,
    rendered_sha256,
    resolve_template,
    text_sha256,
)
from codeeval.prompts.registry import (
    ChatTemplate,
    TaskPrompt,
    get_task_prompt,
    get_template,
    list_task_prompts,
    list_templates,
    prompt_sha256,
)

__all__ = [
    "MODEL",
    "ChatTemplate",
    "ModelTemplate",
    "Template",
    "model_template",
    "rendered_sha256",
    "resolve_template",
    "text_sha256",
    "TaskPrompt",
    "get_task_prompt",
    "get_template",
    "list_task_prompts",
    "list_templates",
    "prompt_sha256",
]
