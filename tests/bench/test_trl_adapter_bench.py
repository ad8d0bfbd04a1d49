"""An adapter from elsewhere, benched: a PEFT LoRA adapter trained by TRL's ``SFTTrainer`` on the
default model (tests/support/trl_adapter.py; no codeeval metadata beside it) goes through
``codeeval bench --suite default --adapter trl=PATH`` with the real generator (transformers engine,
the default model), sandbox and analyzer, started by the CLI for the run.

The adapter variant has results for every item, its receipt names the adapter by the sha256 of its
folder, and every sample says what it was served with: the model's own chat template (an adapter
without a recorded template is served with it, which is how TRL formatted its conversational
rows), no override. Cost: two items, answers capped at 48 tokens through the generator's
``max_tokens``. Measured once the adapter is trained, on a 2-core machine shared at a load average of
10-13: 6.4 minutes at 96 tokens (generation 77 s base + 121 s adapter, the three service starts about
80 s) and 7.4 at 48; the load decides most of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.trl_adapter import trl_adapter

from codeeval.kit.client import address_env
from codeeval.pipeline.stages import prompt_messages
from codeeval.prompts import model_template, text_sha256
from codeeval.suites import load_suite, read_items

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.timeout(1800)]
TASK, LIMIT, MAX_TOKENS = "codegen-python", 2, 48


def _folder_sha256(path: Path) -> str:
    """sha256 over the folder's files sorted by relative path (path, then bytes), computed here
    independently of the generator."""
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(path)).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def default_model() -> Path:
    from codeeval.models import prepare_default_model

    return prepare_default_model()


def test_a_trl_adapter_is_benched_with_its_sha256_and_the_template_it_was_served_with(default_model: Path,
                                                                                       tmp_path: Path) -> None:
    adapter = trl_adapter(default_model)
    assert (adapter / "adapter_config.json").exists() and not (adapter / "codeeval_adapter.json").exists()
    env = {k: v for k, v in os.environ.items() if k not in {address_env(s) for s in ("generator", "sandbox",
                                                                                      "analyzer")}}
    env.update(CODEEVAL_GENERATOR_ENGINE="transformers", CODEEVAL_GENERATOR_MODEL=str(default_model),
               CODEEVAL_GENERATOR_MAX_TOKENS=str(MAX_TOKENS))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "codeeval.cli", "bench", "--suite", "default", "--tasks", TASK,
                           "--limit", str(LIMIT), "--adapter", f"trl={adapter}", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]

    from transformers import AutoTokenizer

    own = model_template(AutoTokenizer.from_pretrained(default_model))
    assert own is not None and own.name.startswith("model:")
    loaded = load_suite("default")
    task = next(t for t in loaded.suite.tasks if t.name == TASK)
    items = {it.id: it for it in read_items(task, loaded.base_dir)[:LIMIT]}

    for variant in ("base", "trl"):
        results = json.loads((out / variant / "results.json").read_text())
        got = results["tasks"][TASK]
        assert "template_override" not in results and "template_override" not in got["generation"]
        assert got["items"] == got["samples"] == LIMIT, got
        assert sum(got["outcomes"].values()) == LIMIT, got["outcomes"]  # every answer got a sandbox verdict
        assert got["generation"]["templates"] == [f"{own.name} {own.sha256[:12]}"]
        assert got["generation"]["completion_tokens"] > 0

    receipt = json.loads((out / "trl" / "receipt.json").read_text())
    assert receipt["adapter"]["name"] == "trl" and receipt["adapter"]["path"] == str(adapter.resolve())
    assert receipt["adapter"]["sha256"] == _folder_sha256(adapter)
    assert receipt["adapter"]["rank"] == 8 and receipt["adapter"]["template"] == "unknown"
    assert receipt["model"]["base_model_sha256"] and receipt["sandbox"]["languages"] and receipt["analyzer"]["tools"]
    assert json.loads((out / "base" / "receipt.json").read_text())["adapter"] is None

    samples = [json.loads(line) for line in (out / "trl" / "generations.jsonl").read_text().splitlines()]
    assert sorted(s["item"] for s in samples) == sorted(items)
    for s in samples:
        assert s["adapter"] == "trl" and s["template"] == own.name and s["template_sha256"] == own.sha256
        assert s["prompt_sha256"] == text_sha256(own.render(prompt_messages(task, items[s["item"]])))
        assert not s.get("template_override")  # the model's own template is how TRL trained it: no override
        assert 0 < s["completion_tokens"] <= MAX_TOKENS

    comparison = json.loads((out / "comparison.json").read_text())["comparisons"]
    assert [(c["a"], c["b"]) for c in comparison] == [("base", "trl")]
