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


#: Loads each argument with java.util.Properties (the JDK's own parser) and prints it sorted, then "---".
PROPS = """import java.io.*; import java.util.*;
public class Props { public static void main(String[] a) throws Exception { for (String f : a) {
  Properties p = new Properties(); try (InputStream in = new FileInputStream(f)) { p.load(in); }  // as Security does
  System.out.print(new TreeMap<>(p) + "\\n---\\n"); } } }
"""
#: Comment-like continuation lines, comments ending in a backslash, blanks, CR/LF and form feeds.
EDGES = ("# comment \\\nk1 = v1 \\\n   # part of k1\n! bang\r\n\n  \t\fk2:v2\\\\\nk3=\\\n\n"
         "  k4 \\\r  !x\n\f# ff comment\nk5=a\fb\n")


@pytest.mark.asyncio(loop_scope="session")
async def test_image_security_properties_are_the_jdks_without_comments(engine: Executor, tmp_path: Path):
    """Every run parses the image's java.security (~4 ms of its CPU for the JDK's 70 KB of comments): the
    image holds it stripped (java_image.strip_comments), and Properties.load reads the same properties
    from it as from the JDK's file, and from each edge case as from its stripped text."""
    runner = engine.runners[Language.JAVA]
    assert isinstance(runner, JavaRunner) and runner.runtime_image
    image = runner.launcher_dir / "jre"
    settings_out = subprocess.run(["java", "-XshowSettings:properties", "-version"], capture_output=True, text=True,
                                  timeout=120).stderr
    home = next(line.split("=", 1)[1].strip() for line in settings_out.splitlines()
                if line.strip().startswith("java.home ="))
    jdk = Path(home) / java_image.SECURITY_PROPERTIES
    ours = image / java_image.SECURITY_PROPERTIES
    assert ours.stat().st_size * 5 < jdk.stat().st_size  # the comments are gone
    (tmp_path / "edges").write_text(EDGES, newline="")
    (tmp_path / "edges-stripped").write_text(java_image.strip_comments(EDGES), newline="")
    assert "part of k1" in java_image.strip_comments(EDGES) and "bang" not in java_image.strip_comments(EDGES)
    (tmp_path / "Props.java").write_text(PROPS)
    subprocess.run(["javac", "-d", str(tmp_path), str(tmp_path / "Props.java")], check=True, timeout=120)
    out = subprocess.run([str(image / "bin" / "java"), "-cp", str(tmp_path), "Props", str(jdk), str(ours),
                          str(tmp_path / "edges"), str(tmp_path / "edges-stripped")],
                         capture_output=True, text=True, timeout=120, check=True).stdout.split("\n---\n")[:-1]
    assert len(out) == 4 and out[0] == out[1] and "jdk.tls.disabledAlgorithms" in out[0], out
    assert out[2] == out[3] and "k1=v1 # part of k1" in out[2], out


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
