"""The main job's adapter is trained partly on MINED sources (the trainer's ``mined`` reader: the
Python stdlib, the JDK's src.zip). Outside the trainer the check finds that reader through the
``codeeval.readers`` entry point codeeval-trainer declares, so those sources are read, not
"unknown". The adapter's metadata here is what the trainer writes for the main job's config
(``smollm2-multitask-qlora-cpu``, resolved by the trainer's own schema); the check runs in a fresh
process that never imported the trainer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codeeval.kit.paths import expand

MAIN_JOB_CONFIG = "smollm2-multitask-qlora-cpu"

CHECK = """
import json, sys
from pathlib import Path
from codeeval.contamination import check_adapter
from codeeval.data import Item
assert "codeeval.trainer" not in sys.modules
items = {t: [Item(i["id"], i["fields"], reference=i["reference"]) for i in rows]
         for t, rows in json.loads(sys.argv[2]).items()}
print(json.dumps(check_adapter(items, Path(sys.argv[1])).to_json()))
"""


@pytest.fixture(scope="module")
def main_job_adapter(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """An adapter folder with the metadata the trainer writes for the main job (config as trained)."""
    schema = pytest.importorskip("codeeval.trainer.recipe_schema")
    cfg = schema.load_config(MAIN_JOB_CONFIG).model_dump(mode="json")
    adapter = tmp_path_factory.mktemp("main-job") / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    mixture = [{"task": t["name"], "available": 48, "effective": 48, "proportion": 1 / 3}
               for t in cfg["data"]["tasks"]]
    (adapter / "codeeval_adapter.json").write_text(json.dumps({
        "kind": "adapter", "method": cfg["method"]["kind"], "base_model": cfg["model"]["base"], "config": cfg,
        "template": cfg["model"]["template"], "mixture": mixture, "seed": cfg["train"]["seed"]}))
    return adapter, {t["name"]: t["source"] for t in cfg["data"]["tasks"]}


def _check(adapter: Path, items: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", CHECK, str(adapter), json.dumps(items)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _paraphrase(code: str) -> str:
    """``code`` with every 6th word (``\\w+`` run, the check's words) renamed: no 13-word window survives."""
    count = iter(range(10**6))
    return re.sub(r"\w+", lambda m: m.group() + "_renamed" if next(count) % 6 == 0 else m.group(), code)


@pytest.fixture(scope="module")
def checked(main_job_adapter) -> tuple[dict[str, Any], dict[str, Any]]:
    """One check of planted items against the main job's adapter (one fresh process, every source
    read once): (result, the planted texts)."""
    from codeeval.trainer.miner import mine

    adapter, sources = main_job_adapter
    pairs = list(mine(Path(expand(sources["summarize-python"]["path"])), "python"))
    items = {"summarize-python": [
        {"id": "planted", "fields": {"code": pairs[2].code}, "reference": "an unrelated reference text"},
        {"id": "paraphrased", "fields": {"code": _paraphrase(pairs[5].code)}, "reference": "another text"},
        {"id": "summary-copied", "fields": {"code": "def fresh_name(): return 1"}, "reference": pairs[7].summary},
        {"id": "fresh", "fields": {"code": " ".join(f"unseen{w}" for w in range(30))}, "reference": "not seen"}]}
    src_zip = Path(expand(sources["summarize-java"]["path"]))
    if src_zip.is_file():
        first = next(iter(mine(src_zip, "java")))
        items["summarize-java"] = [{"id": "jdk", "fields": {"code": first.code}, "reference": "our own words"}]
    return _check(adapter, items), {"pairs": pairs, "src_zip": src_zip}


def test_the_stdlib_source_of_the_main_job_is_read_and_a_planted_function_found(main_job_adapter, checked) -> None:
    _, sources = main_job_adapter
    result, planted = checked
    spec = sources["summarize-python"]
    assert spec["reader"] == "mined" and spec["path"] == "${stdlib}/json"
    by_label = {s["label"]: s for s in result["sources"]}
    mined = by_label["summarize-python (mined)"]
    assert mined["error"] == "" and mined["examples"] == min(len(planted["pairs"]), spec["limit"])
    assert by_label["translate-java-cs (jsonl)"]["error"] == ""
    task = result["tasks"]["summarize-python"]
    assert task["contaminated"]["prompt"]["ids"] == ["planted"]
    assert task["matches"]["planted"]["prompt"] == {"source": "summarize-python (mined)", "example": 2,
                                                    "kind": "exact"}
    # a mined summary (the training target) copied as a reference; a short one is flagged exact-match only
    summary = planted["pairs"][7].summary
    assert task["contaminated"]["reference"]["ids"] == ["summary-copied"]
    assert ("summary-copied" in task["short"]["reference"]) == (len(re.findall(r"\w+", summary)) < 13)
    assert task["clean_ids"] == ["paraphrased", "fresh"] and "paraphrased" not in task["short"]["prompt"]


def test_the_jdk_source_of_the_main_job_is_read(main_job_adapter, checked) -> None:
    _, sources = main_job_adapter
    result, planted = checked
    if not planted["src_zip"].is_file():
        pytest.skip("the JDK's src.zip (Debian's openjdk-17-source) is not installed here")
    java = next(s for s in result["sources"] if s["label"] == "summarize-java (mined)")
    assert java["error"] == "" and java["examples"] == sources["summarize-java"]["limit"]
    assert result["status"] == "contaminated"
    assert result["tasks"]["summarize-java"]["contaminated"]["prompt"]["ids"] == ["jdk"]
