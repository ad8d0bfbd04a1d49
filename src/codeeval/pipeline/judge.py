"""Optional LLM-as-judge for summaries (the study's rubric): content adequacy, conciseness and
fluency on 1-5, the mean of several runs with different seeds.

The judge is any model the generator serves (``judge.adapter``, empty = its base model) or an
OpenAI-compatible chat endpoint (``judge.endpoint`` + ``judge.model``; key from
``$CODEEVAL_JUDGE_API_KEY``). The rubric text is hashed and the hash recorded with every score.
Answers that do not contain the three scores are recorded as unparsable, never as a score.
Cost: runs x samples judge generations.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.request
from typing import Any

from codeeval.pipeline.services import Services
from codeeval.pipeline.store import RunDir

CRITERIA = ("content_adequacy", "conciseness", "fluency")
RUBRIC = (
    "You are grading a one-sentence summary of a piece of code.\n\n"
    "Code:\n```\n{code}\n```\n\nSummary: {summary}\n\n"
    "Rate the summary from 1 (very poor) to 5 (excellent) on three criteria:\n"
    "- content adequacy: how much of the code's functionality the summary conveys;\n"
    "- conciseness: whether it avoids unnecessary information;\n"
    "- fluency: whether it is easy to read and grammatical.\n"
    "Answer with exactly three lines:\ncontent adequacy: <1-5>\nconciseness: <1-5>\nfluency: <1-5>"
)
RUBRIC_SHA256 = hashlib.sha256(RUBRIC.encode()).hexdigest()
_SCORE = {c: re.compile(rf"{c.replace('_', '[ _-]')}\W*([1-5])", re.I) for c in CRITERIA}


def parse_scores(text: str) -> dict[str, int] | None:
    """The three 1-5 scores, or None when any is missing."""
    found = {c: rx.search(text) for c, rx in _SCORE.items()}
    if not all(found.values()):
        return None
    return {c: int(m.group(1)) for c, m in found.items() if m}


def _openai_chat(endpoint: str, model: str, prompt: str, seed: int, max_tokens: int) -> str:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0.7,
                       "seed": seed, "max_tokens": max_tokens}).encode()
    headers = {"Content-Type": "application/json"}
    if os.environ.get("CODEEVAL_JUDGE_API_KEY"):
        headers["Authorization"] = f"Bearer {os.environ['CODEEVAL_JUDGE_API_KEY']}"
    req = urllib.request.Request(endpoint.rstrip("/") + "/chat/completions", data=body, headers=headers)
    with urllib.request.urlopen(req, timeout=300) as resp:  # noqa: S310 (the user's configured endpoint)
        return str(json.load(resp)["choices"][0]["message"]["content"])


def judge(run: RunDir, services: Services, tasks: list[Any], reporter: Any) -> None:
    """Judge every summary of tasks that configure ``judge``; one record per (sample, run)."""
    wanted = [t for t in tasks if t.task.judge is not None]
    store = run.store("judge")
    done = store.keys(lambda r: (r["task"], r["item"], r["sample"], r["run"]))
    answers = {(e["task"], e["item"], e["sample"]): e["answer"] for e in run.store("extract").records()}
    todo = []
    for ti in wanted:
        cfg = ti.task.judge
        for (task, item_id, sample), answer in sorted(answers.items()):
            if task != ti.task.name:
                continue
            for r in range(cfg.runs):
                if (task, item_id, sample, r) not in done:
                    todo.append((ti, item_id, sample, answer, r))
    advance = reporter.stage("judge", len(done) + len(todo), len(done))
    for ti, item_id, sample, answer, r in todo:
        cfg = ti.task.judge
        prompt = RUBRIC.format(code=ti.item(item_id).source, summary=answer)
        seed = cfg.seed + r
        if cfg.endpoint:
            text = _openai_chat(cfg.endpoint, cfg.model, prompt, seed, cfg.max_tokens)
        else:
            text = services.generator.complete(prompt, temperature=0.7, max_tokens=cfg.max_tokens, seed=seed,
                                               adapter=cfg.adapter, template=cfg.template or "", prompt_id="judge")
        store.append([{"task": ti.task.name, "item": item_id, "sample": sample, "run": r, "seed": seed,
                       "judge": cfg.endpoint and f"{cfg.endpoint} {cfg.model}" or f"generator {cfg.adapter or 'base'}",
                       "rubric_sha256": RUBRIC_SHA256, "scores": parse_scores(text), "text": text[:500]}])
        advance(1)
