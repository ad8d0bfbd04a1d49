"""Makes LoRA adapters for tests: a few optimizer steps of PEFT LoRA on CPU that teach the model
to answer one prompt with one recognisable text, saved as a PEFT folder with the trainer's
``codeeval_adapter.json`` (template, template_sha256, base_model, task_prompts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from codeeval.prompts import get_template


def train_adapter(base: str | Path, out: str | Path, answer: str, *, prompts: list[str], steps: int = 30,
                  rank: int = 8, seed: int = 0, template: str = "smollm2", lr: float = 3e-3,
                  targets: tuple[str, ...] = ("q_proj", "v_proj")) -> Path:
    """Train until greedy decoding of each of ``prompts`` (rendered with ``template``) starts with
    ``answer``; cost: ``steps`` forward/backward passes over len(prompts) short sequences."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(base)
    model: Any = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=list(targets),
                                             lora_dropout=0.0))
    tpl = get_template(template)
    rows = []
    for p in prompts:
        prompt, completion = tpl.render_training_example([{"role": "user", "content": p}], answer)
        p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        c_ids = tok(completion, add_special_tokens=False)["input_ids"]
        rows.append((torch.tensor([p_ids + c_ids]), torch.tensor([[-100] * len(p_ids) + c_ids])))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for _ in range(steps):
        for ids, labels in rows:
            loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
    out = Path(out)
    model.save_pretrained(out)
    meta = {"template": tpl.name, "template_sha256": tpl.sha256, "base_model": str(base), "task_prompts": {},
            "answer": answer}
    (out / "codeeval_adapter.json").write_text(json.dumps(meta, indent=1))
    return out


def random_adapter(base: str | Path, out: str | Path, *, rank: int = 4, seed: int = 0,
                   targets: tuple[str, ...] = ("q_proj", "v_proj"), template: str = "smollm2") -> Path:
    """An untrained adapter with random (non-zero) B matrices, so it visibly changes the output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model: Any = AutoModelForCausalLM.from_pretrained(base)
    model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=4 * rank, target_modules=list(targets),
                                             init_lora_weights=False))
    out = Path(out)
    model.save_pretrained(out)
    tpl = get_template(template)
    (out / "codeeval_adapter.json").write_text(json.dumps(
        {"template": tpl.name, "template_sha256": tpl.sha256, "base_model": str(base), "task_prompts": {}}))
    return out
