"""Unit tests of the grpc-free glue: verdict mapping, output capping, Java source placement and
error attribution, program assembly, path mapping for docker. The real-sandbox paths of all of
these are covered by test_conformance / test_languages / test_service."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from codeeval.sandbox.backends.base import StreamCollector, map_paths
from codeeval.sandbox.backends.cgroups import Cgroups
from codeeval.sandbox.model import Language, Limits, Mode, Outcome, ProcessResult, RunRequest
from codeeval.sandbox.runners import java, protocol
from codeeval.sandbox.runners.python import program_text
from codeeval.sandbox.settings import SandboxSettings

TOKEN = b"0123abcd"
STARTED = protocol.START + b"some output\n"
DONE = STARTED + protocol.DONE + TOKEN + b"\n"


def pr(**kw: Any) -> ProcessResult:
    base: dict[str, Any] = {"exit_code": 0, "stderr": STARTED}
    base.update(kw)
    if "stderr_tail" not in kw:
        base["stderr_tail"] = base["stderr"][-512:]
    return ProcessResult(**base)


@pytest.mark.parametrize(("result", "require_done", "outcome"), [
    (pr(stderr=DONE), True, Outcome.PASSED),
    (pr(), True, Outcome.RUNTIME_ERROR),  # exit 0 without the token: early exit
    (pr(stderr=STARTED + protocol.DONE + b"forged\n"), True, Outcome.RUNTIME_ERROR),
    (pr(), False, Outcome.PASSED),  # run mode: exit 0 is enough
    (pr(exit_code=101), True, Outcome.FAILED),
    (pr(exit_code=102), True, Outcome.RUNTIME_ERROR),
    (pr(exit_code=103), True, Outcome.COMPILE_ERROR),
    (pr(exit_code=-9, signal=9), True, Outcome.RUNTIME_ERROR),
    (pr(exit_code=-9, timed_out=True), True, Outcome.TIMEOUT),
    (pr(exit_code=-9, cpu_exceeded=True), True, Outcome.TIMEOUT),
    (pr(exit_code=137, oom_killed=True), True, Outcome.MEMORY_EXCEEDED),
    (pr(exit_code=102, stderr=STARTED + b"MemoryError\n"), True, Outcome.MEMORY_EXCEEDED),
    (pr(exit_code=-9, output_exceeded=True), True, Outcome.OUTPUT_LIMIT_EXCEEDED),
    (pr(exit_code=1, stderr=b"bwrap: setting up uid map: Permission denied", sandbox_failure="bwrap failed"), True,
     Outcome.SANDBOX_ERROR),
    (pr(exit_code=1, stderr=b"no harness"), True, Outcome.SANDBOX_ERROR),
    # a candidate that fakes a sandbox failure after START is still the candidate's failure
    (pr(exit_code=1, stderr=STARTED + b"bwrap: fake", sandbox_failure="bwrap failed"), True, Outcome.RUNTIME_ERROR),
])
def test_classify(result: ProcessResult, require_done: bool, outcome: Outcome):
    assert protocol.classify(result, TOKEN, require_done=require_done)[0] is outcome


def test_markers_are_stripped_from_stderr():
    assert protocol.strip_markers(DONE, TOKEN) == b"some output\n"


def test_stream_collector_keeps_head_and_tail_and_flags_the_hard_cap():
    hits = []
    c = StreamCollector(keep=10, hard=100, on_exceed=lambda: hits.append(1))
    for _ in range(30):
        c.feed(b"abcdefgh")
    assert bytes(c.head) == b"abcdefghab" and c.truncated and c.exceeded and hits == [1]
    assert c.tail.endswith(b"abcdefgh") and c.total == 240


def test_java_test_class_is_the_entry_point_or_the_public_type():
    assert java.public_type("final class A {}\npublic final class Main {") == "Main"
    assert java.test_class(RunRequest(Language.JAVA, "x", "public class FooTest {}")) == "FooTest"


def test_javac_errors_are_attributed_per_candidate():
    out = ("/src/c0/Candidate.java:3: error: ';' expected\n    int x\n         ^\n"
           "/tmp/ws/b/src/t12/Main.java:1: error: cannot find symbol\n  symbol: class Foo\n2 errors\n")
    blamed = java._attribute(out)
    assert set(blamed) == {0, 12}
    assert blamed[0].startswith("Candidate.java:3: error: ';' expected")
    assert blamed[12] == "Main.java:1: error: cannot find symbol\n  symbol: class Foo"


def test_python_program_is_the_humaneval_concatenation():
    req = RunRequest(Language.PYTHON, "def f():\n    return 1", "def check(c):\n    assert c() == 1", "f")
    assert program_text(req) == "def f():\n    return 1\n\ndef check(c):\n    assert c() == 1\n\ncheck(f)\n"
    assert program_text(req.evolve(mode=Mode.RUN)) == "def f():\n    return 1\n"


def test_limits_defaults_and_hard_output_cap():
    s = SandboxSettings.load(default_wall_time_ms=1234)
    eff = Limits(memory_bytes=1 << 20).with_defaults(s.default_limits())
    assert eff.wall_time_ms == 1234 and eff.memory_bytes == 1 << 20
    assert s.output_hard_bytes(10) == 1 << 20 and s.output_hard_bytes(1 << 20) == 16 << 20


def test_bind_targets_map_to_host_paths():
    argv = ["java", "-cp", "/classes:/launcher:/usr/share/java/x.jar", "/code/main.py", "/codex"]
    mapping = {"/classes": "/h/classes", "/launcher": "/h/l", "/code": "/h/run"}
    assert map_paths(argv, mapping) == ["java", "-cp", "/h/classes:/h/l:/usr/share/java/x.jar", "/h/run/main.py",
                                        "/codex"]


def test_cgroup_v2_files_written_and_read(tmp_path: Path):
    """cgroup v2 layout on a plain directory (this CI host is v1; the v1 path runs for real in every
    sandbox test): limits land in memory.max / memory.swap.max / pids.max, stats come back."""
    parent = tmp_path / "codeeval-sandbox"
    parent.mkdir()
    cg = Cgroups(2, {"memory": parent, "pids": parent, "cpuacct": parent})
    run = cg.create(256 << 20, 32)
    d = run.dirs["memory"]
    assert (d / "memory.max").read_text() == str(256 << 20) and (d / "pids.max").read_text() == "32"
    (d / "memory.peak").write_text("12345\n")
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    (d / "cpu.stat").write_text("usage_usec 42000\nuser_usec 40000\n")
    stats = run.stats()
    assert (stats.peak_memory_bytes, stats.cpu_time_ms, stats.oom_killed) == (12345, 42, True)
    assert run.procs_files() == [str(d / "cgroup.procs")]


def test_disk_watch_counts_a_tmpfs_by_statvfs_and_a_plain_dir_by_walking(tmp_path: Path):
    from codeeval.sandbox.backends.memwatch import DiskWatch

    killed: list[bool] = []
    plain = DiskWatch(tmp_path, 1 << 20, lambda: killed.append(True))
    assert not plain._mount
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f").write_bytes(b"x" * (600 << 10))
    assert plain.sample() >= 600 << 10 and not killed
    (tmp_path / "g").write_bytes(b"x" * (600 << 10))
    assert plain.sample() > 1 << 20 and killed == [True] and plain.exceeded
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no writable /dev/shm tmpfs here")
    watch = DiskWatch(shm, 1 << 30, lambda: None)
    assert watch._mount  # /dev/shm is a tmpfs mount point: statvfs, minus what it held at the start
    with tempfile.NamedTemporaryFile(dir=shm) as fh:
        fh.write(b"x" * (2 << 20))
        fh.flush()
        assert watch.sample() >= 2 << 20
