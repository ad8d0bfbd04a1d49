"""The main job's training data need nothing outside the clone and a Debian install: the project's own
Java<->C# pairs, the JDK's sources (openjdk-17-source's src.zip, mined) and the standard library."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from codeeval.trainer.miner import mine
from codeeval.trainer.readers import read, required_paths
from codeeval.trainer.recipe_schema import load_config

MAIN_CONFIGS = ["smollm2-multitask-qlora-cpu", "smollm2-multitask-lora-cpu", "smollm2-multitask-full-cpu",
                "smollm2-translate-qlora-cpu"]
JDK_SRC = Path("/usr/lib/jvm/openjdk-17/lib/src.zip")   # Debian's openjdk-17-source

JAVA = '''package demo;
public class Box {
    /**
     * Returns the width of the box in pixels.
     * @return the width
     */
    public int width() {
        return w;
    }
}
'''


@pytest.mark.parametrize("name", MAIN_CONFIGS)
def test_cpu_configs_use_no_dataset_folder(name: str) -> None:
    for task in load_config(name).data.tasks:
        assert "${datasets}" not in (task.source.path or ""), f"{name}: {task.name} reads the datasets folder"


@pytest.mark.parametrize("name", MAIN_CONFIGS)
def test_cpu_configs_read_with_an_empty_datasets_folder(name: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEEVAL_DATASETS_DIR", str(tmp_path))
    tasks = load_config(name).data.tasks
    if any(JDK_SRC in required_paths(t.source) for t in tasks) and not JDK_SRC.is_file():
        pytest.skip(f"{JDK_SRC} absent: apt-get install openjdk-17-source (bash scripts/install-system-deps.sh)")
    for task in tasks:
        examples = read(task.source, task.name)
        assert examples, f"{name}: task {task.name} read nothing"
        assert task.source.limit is None or len(examples) <= task.source.limit


def test_miner_reads_a_zip_like_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "src" / "demo"
    folder.mkdir(parents=True)
    (folder / "Box.java").write_text(JAVA)
    with zipfile.ZipFile(tmp_path / "src.zip", "w") as zf:
        zf.writestr("demo/Box.java", JAVA)
        zf.writestr("demo/Latin1.java", b"/** caf\xe9 au lait is here */ int x() { return 1; }")
    from_zip = list(mine(tmp_path / "src.zip", "java"))
    from_folder = list(mine(tmp_path / "src", "java"))
    assert from_zip == from_folder
    assert [(p.path, p.name, p.summary) for p in from_zip] == [("demo/Box.java", "width",
                                                                 "Returns the width of the box in pixels.")]
    assert "Returns the width" not in from_zip[0].code


@pytest.mark.skipif(not JDK_SRC.is_file(), reason=f"{JDK_SRC} absent (Debian package openjdk-17-source)")
def test_jdk_sources_give_javadoc_free_pairs() -> None:
    pairs = [p for _, p in zip(range(48), mine(JDK_SRC, "java"), strict=False)]
    assert len(pairs) == 48
    assert all(p.path.endswith(".java") and "/**" not in p.code and len(p.summary.split()) >= 3 for p in pairs)
