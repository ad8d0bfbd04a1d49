"""The Java judge's runtime image (runners/java_image.py): the real image the engine runs from holds
java.se and the judge and nothing a candidate could use to reach below the judge, sealed read-only;
and the cache that keeps the ~15 s jlink out of every start (unit tests with a stand-in build)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import FIXTURES, requires_bwrap, settings

from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Outcome, RunRequest
from codeeval.sandbox.runners import java, java_image
from codeeval.sandbox.runners.java import JavaRunner

SOURCES = [Path(java_image.__file__).parent / "support" / "module-info.java"]
TASK = json.loads((FIXTURES / "humaneval_x_java.jsonl").read_text().splitlines()[0])  # Java/0: add(x, y)


@pytest.mark.asyncio(loop_scope="session")
async def test_engine_image_holds_the_judge_and_no_unsafe_modules(engine: Executor):
    runner = engine.runners[Language.JAVA]
    assert isinstance(runner, JavaRunner) and runner.runtime_image and runner.image_source
    image = runner.launcher_dir / "jre"
    out = subprocess.run([str(image / "bin" / "java"), "--list-modules"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    modules = {line.split("@")[0] for line in out.split()}
    assert {"codeeval.judge", "java.se", "java.sql", "jdk.localedata"} <= modules
    assert not modules & {"jdk.unsupported", "jdk.attach", "jdk.management", "jdk.compiler", "jdk.jfr"}
    for p in [image, *image.rglob("*")]:
        if p.is_symlink():  # jlink's legal/ notices: relative links inside the image
            assert p.resolve().is_relative_to(image.resolve()), p
            continue
        mode = p.lstat().st_mode
        assert not mode & (stat.S_IWGRP | stat.S_IWOTH), p
        assert p.lstat().st_uid == os.geteuid(), p
    assert (image / "lib" / "server" / "classes.jsa").stat().st_size > 1 << 20


@pytest.mark.asyncio(loop_scope="session")
async def test_runs_start_from_the_archived_boot_layer_and_heap(engine: Executor, tmp_path: Path):
    """The judge starts with the runner's own command line (class-path launch, G1) and the image's CDS
    archive gives it the archived module graph and heap objects (an ``-m`` or ``--add-modules``, or
    another collector, would silently turn them off: ~15 ms more CPU per run); then it judges."""
    runner = engine.runners[Language.JAVA]
    assert isinstance(runner, JavaRunner) and runner.runtime_image
    (tmp_path / "t0").mkdir()
    (tmp_path / "t0" / "Main.java").write_text("package t0; public class Main { public static void main(String[] a) {"
                                               " if (java.util.List.of(1, 2).size() != 2) throw new AssertionError();"
                                               " } }\n")
    subprocess.run(["javac", "-d", str(tmp_path), str(tmp_path / "t0" / "Main.java")], check=True, timeout=120)
    image = runner.launcher_dir / "jre"
    argv = [str(image / "bin" / "java"), *java.JVM_FLAGS, *java.memory_flags(settings().default_memory_bytes),
            "-Xshare:on", "-Xlog:cds=info", "-Xlog:class+load=info", "-cp", str(tmp_path), *runner.judge_main(),
            "t0.Main", str(image), "t0.Main"]
    out = subprocess.run(argv, input=b"tok\n", capture_output=True, timeout=120)
    log = out.stdout.decode()
    assert out.returncode == 0 and b"CODEEVAL-DONE tok" in out.stderr, out.stderr[-2000:]
    assert "full module graph: enabled" in log
    assert "Trying to map heap data" in log and "heap data relocation delta = 0" in log
    assert "codeeval.judge.CodeevalLauncher source: shared objects file" in log
    assert "t0.Main source: file:" in log  # class-path classes are never archived


def fake_build(judge_jar: Path, output: Path) -> None:
    (output / "bin").mkdir(parents=True)
    (output / "bin" / "java").write_text(judge_jar.read_text())
    (output / "bin" / "java").chmod(0o755)


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(java_image, "build", fake_build)
    jar = tmp_path / "judge.jar"
    jar.write_text("judge")
    return jar


def test_built_once_then_linked_from_the_cache(stand_in: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    assert java_image.provide(stand_in, SOURCES, tmp_path / "a", cache) == "built"
    assert java_image.provide(stand_in, SOURCES, tmp_path / "b", cache) == "cached"
    [entry] = cache.glob("jre-*")
    assert (tmp_path / "b" / "bin" / "java").stat().st_ino == (entry / "bin" / "java").stat().st_ino
    assert not (tmp_path / "b" / ".complete").exists()
    assert os.access(tmp_path / "b" / "bin" / "java", os.X_OK)


def test_untrusted_cache_is_not_used(stand_in: Path, tmp_path: Path):
    cache = tmp_path / "open"
    cache.mkdir()
    cache.chmod(0o777)  # another uid could have planted an image here
    assert java_image.provide(stand_in, SOURCES, tmp_path / "a", cache) == "built-uncached"
    assert list(cache.iterdir()) == [] and (tmp_path / "a" / "bin" / "java").exists()


def test_incomplete_entry_is_rebuilt_and_stale_ones_removed(stand_in: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    cache.mkdir()
    key = java_image.image_key(SOURCES)
    (cache / f"jre-{key}").mkdir()  # a build that died before it finished
    (cache / "jre-0ld").mkdir()
    assert java_image.provide(stand_in, SOURCES, tmp_path / "a", cache) == "built"
    assert sorted(p.name for p in cache.iterdir()) == [f"jre-{key}"]
    assert (cache / f"jre-{key}" / ".complete").is_file()


@pytest.mark.slow
@requires_bwrap
@pytest.mark.asyncio(loop_scope="session")
async def test_without_an_image_the_judge_runs_from_the_module_path(monkeypatch: pytest.MonkeyPatch):
    """No jlink (or a failed build): the service still starts, says why, and judges as before."""
    def no_jlink(*args: object, **kwargs: object) -> str:
        raise subprocess.CalledProcessError(1, ["jlink"], stderr=b"jlink: not here")
    monkeypatch.setattr(java_image, "provide", no_jlink)
    eng = Executor(settings())
    await eng.start()
    try:
        runner = eng.runners[Language.JAVA]
        assert isinstance(runner, JavaRunner) and not runner.runtime_image
        assert runner.image_source.startswith("off (the runtime image could not be built") and "not here" in \
            runner.image_source
        reqs = [RunRequest(Language.JAVA, TASK["prompt"] + TASK["canonical_solution"], TASK["test"]),
                RunRequest(Language.JAVA, TASK["prompt"] + "        return x - y;\n    }\n}", TASK["test"])]
        outcomes = {i: res.outcome async for i, res in eng.execute_batch(reqs)}
        assert outcomes == {0: Outcome.PASSED, 1: Outcome.FAILED}
    finally:
        await eng.stop()
