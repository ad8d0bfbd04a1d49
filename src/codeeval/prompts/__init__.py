"""The one prompt-template registry shared by the trainer, the generator and ``codeeval bench``.

The study trained translation with ChatML and evaluated it with a "Human:/Assistant:" template.
Here a model is trained and evaluated through the same two objects, and their sha256 is recorded
with every training artifact and every generation, so a mismatch is impossible to miss:

* a :class:`ChatTemplate` turns chat messages into the model's input text
  (``chatml``, ``qwen2.5``, ``smollm2``, ``human-assistant``, ``raw``);
* a :class:`TaskPrompt` turns a task's fields (code, description, ...) into chat messages
  (``codegen-python``, ``translate-java-cs``, ``summarize-python``, ...).

Both are plain data; :func:`prompt_sha256` hashes the pair used for one result.
"""

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
    "ChatTemplate",
    "TaskPrompt",
    "get_task_prompt",
    "get_template",
    "list_task_prompts",
    "list_templates",
    "prompt_sha256",
]
