"""From examples to token batches: prompts from the shared registry, completion-only labels,
optional packing, and a deterministic batch order that a checkpoint can resume mid-epoch.

Every example is rendered by ``ChatTemplate.render_training_example(TaskPrompt.messages(...))``,
the exact text the generator renders at inference (plus the completion and end-of-turn).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from codeeval.data import Example
from codeeval.prompts import TaskPrompt, Template

IGNORE = -100


@dataclass(frozen=True)
class Features:
    task: str
    input_ids: list[int]
    labels: list[int]


def encode(example: Example, tokenizer, template: Template, prompt: TaskPrompt,  # type: ignore[no-untyped-def]
           max_length: int, completion_only: bool) -> Features:
    """Tokenize prompt and completion separately so the boundary is exact; truncate the prompt
    first (keeping its end, where the generation prompt is) and then the completion."""
    prompt_text, completion_text = template.render_training_example(prompt.messages(**example.fields),
                                                                    example.target)
    p_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    c_ids = tokenizer(completion_text, add_special_tokens=False)["input_ids"]
    if len(p_ids) + len(c_ids) > max_length:
        keep_prompt = max(max_length // 2, max_length - len(c_ids))
        p_ids = p_ids[-keep_prompt:] if len(p_ids) > keep_prompt else p_ids
        c_ids = c_ids[: max_length - len(p_ids)]
    labels = ([IGNORE] * len(p_ids) if completion_only else list(p_ids)) + list(c_ids)
    return Features(example.task, list(p_ids) + list(c_ids), labels)


def pack(features: Sequence[Features], max_length: int) -> list[Features]:
    """Concatenate examples (in order) into blocks of at most ``max_length`` tokens, as the study
    did with 512; an example never straddles two blocks."""
    blocks: list[Features] = []
    ids: list[int] = []
    labels: list[int] = []
    for f in features:
        if ids and len(ids) + len(f.input_ids) > max_length:
            blocks.append(Features("packed", ids, labels))
            ids, labels = [], []
        ids, labels = ids + f.input_ids, labels + f.labels
    if ids:
        blocks.append(Features("packed", ids, labels))
    return blocks


def collate(batch: Sequence[Features], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(f.input_ids) for f in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, f in enumerate(batch):
        n = len(f.input_ids)
        ids[i, :n] = torch.tensor(f.input_ids)
        labels[i, :n] = torch.tensor(f.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def collate_flat(batch: Sequence[Features]) -> dict[str, torch.Tensor]:
    """The batch as one row with no padding: the examples back to back, ``position_ids`` restarting at 0
    for each, and each example's first label set to IGNORE (the last token of one example must not be
    trained to predict the first of the next; in :func:`collate`'s rows no position predicts it either).
    A causal LM given ``position_ids`` and no attention mask keeps attention within each example
    (transformers' packed-sequence masks), so the loss is :func:`collate`'s (checked by
    ``modeling.check_padding_free``) while the layers compute ``sum(lengths)`` tokens instead of
    ``len(batch) * max(lengths)``. Cost: the attention of one row of ``sum(lengths)`` positions under a
    block-diagonal mask."""
    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    for f in batch:
        ids += f.input_ids
        labels += [IGNORE] + f.labels[1:]
        positions += range(len(f.input_ids))
    return {"input_ids": torch.tensor([ids]), "position_ids": torch.tensor([positions]),
            "labels": torch.tensor([labels])}


def batch_tokens(batch: dict[str, torch.Tensor]) -> int:
    """The batch's real (non-pad) tokens, from :func:`collate` or :func:`collate_flat`."""
    mask = batch.get("attention_mask")
    return int(mask.sum()) if mask is not None else batch["input_ids"].numel()


class BatchOrder:
    """Micro-batch ``k`` of the whole run, for rank ``rank`` of ``world``.

    Epoch ``e`` visits the examples in a permutation seeded by (seed, e); micro-batch k lies in
    epoch k // per_epoch. The data position of a checkpoint is therefore just k.
    """

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.size, self.batch_size, self.seed, self.rank, self.world = size, batch_size, seed, rank, world
        self.per_epoch = max(1, math.ceil(size / (batch_size * world)))
        self._cache: tuple[int, list[int]] | None = None

    def _perm(self, epoch: int) -> list[int]:
        if self._cache is None or self._cache[0] != epoch:
            order = list(range(self.size))
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            self._cache = (epoch, order)
        return self._cache[1]

    def indices(self, k: int) -> list[int]:
        epoch, b = divmod(k, self.per_epoch)
        order = self._perm(epoch)
        start = b * self.batch_size * self.world + self.rank * self.batch_size
        chunk = order[start: start + self.batch_size]
        return chunk or order[: self.batch_size]
