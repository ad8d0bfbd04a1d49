"""Analyzer under concurrent load: a real local analyzer service (pylint, the warm PMD JVM, lizard)
receiving concurrent Analyze calls of large and malformed files.

Each "mixed" call holds control files with known findings (a Python unused variable, a Java unused
local) beside files that make a tool fail or cannot be analysed: a 3,000-term sum that crashes
pylint's astroid (pylint's fatal F0002, a real crash of pylint 4.1), a multi-line f-string lizard
counts negatively, a 3,000-term sum that overflows CPython's compiler (the parse check's
RecursionError), Python and Java syntax errors, printable junk, deeply nested Python and Java,
and one large file. A failing tool must fail that file only: the control files keep exactly the
findings they had in the first call, and every file gets its report. Oversized (5 MiB) and binary
(non-UTF-8) files are refused as a whole call with INVALID_ARGUMENT naming the file's field (and
the limit, for the size). Between rounds the service is quiet and sampled: the service process's
own RSS and fds (what is judged), its process tree (the PMD JVM: counted; its RSS is reported, not
judged, since the JVM's heap grows and shrinks up to its -Xmx as its collector decides).

Every round is one whole cycle of :data:`CYCLE` (four mixed calls and the two refused ones), so
every sample follows the same work: rounds that differ swing the RSS by themselves (measured: a
round with the 5 MiB call left the service's RSS about 20 MiB above a round of mixed calls only).
The warm-up ends at the RSS plateau (:func:`plateau_reached`), and the figure's baseline is the
top of the band its window spans (:func:`plateau_level`: concurrent calls in another order swing
the RSS by a few percent from round to round even there; measured from one reading in the middle
of that band, a short profile once judged 6.7%), or the sample after the warm-up when higher; then
at least :data:`MIN_MEASURED_ROUNDS` rounds are measured. The service starts with the same
allocator settings as the bad-input figures (``MALLOC_ENV``: a fixed mmap threshold, two arenas),
so RSS measures what it holds rather than what per-thread arenas cache.

Bounded by ``ctx.count(600)`` measured calls and ``ctx.deadline(seconds)`` for the measured rounds
(after their minimum), the warm-up by :data:`MAX_WARMUP_ROUNDS` rounds and :data:`WARMUP_S`.
Cost: pylint and PMD on the files (seconds per mixed call on a busy 2-core machine).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import grpc

from codeeval.api.analyzer.v1 import analyzer_pb2, analyzer_pb2_grpc
from codeeval.api.common.v1 import common_pb2
from codeeval.kit.client import LocalService, open_channel
from reliability.context import Context, environment
from reliability.load_checks import (
    PLATEAU_GROWTH,
    PLATEAU_ROUNDS,
    Flatness,
    Sample,
    Started,
    descendants,
    open_fds,
    percentile,
    plateau_level,
    plateau_reached,
    rss_bytes,
)
from reliability.report import Section

FULL_CALLS = 600
STREAMS = 3
#: One round: every kind of call once, the mixed one four times (run on :data:`STREAMS` streams).
CYCLE = ("mixed", "oversized", "binary", "mixed", "mixed", "mixed")
#: The warm-up ends at the RSS plateau (:func:`~reliability.load_checks.plateau_reached`: the last
#: PLATEAU_ROUNDS rounds left the service's RSS under PLATEAU_GROWTH over its highest reading before them), or after
#: MAX_WARMUP_ROUNDS rounds (the figure then says the plateau was not reached). Measured over 60
#: rounds of 3 calls: RSS rose for about 15 rounds (45 calls; 9 rounds with MALLOC_ENV) and then
#: stayed within 3% of that value for the next 20 (no leak: Python objects and traced memory are flat
#: after pylint's cache fix; the rise is the allocator's heap settling).
MAX_WARMUP_ROUNDS = 15
#: The warm-up's time bound, whatever the profile: a busy machine takes tens of seconds a round,
#: and a warm-up cut before the plateau makes the figure judge the allocator's settling.
WARMUP_S = 240.0
MIN_MEASURED_ROUNDS = 5
MAX_FILE_BYTES = 256 * 1024   # the analyzer's default max_file_bytes
OVERSIZED_BYTES = 5 * 1024 * 1024
CALL_TIMEOUT_S = 300.0

PY, JAVA = common_pb2.LANGUAGE_PYTHON, common_pb2.LANGUAGE_JAVA
CONTROL_PY = "def area(w, h):\n    unused = w * 2\n    return w * h\n"
CONTROL_JAVA = ("public class Control {\n    public int area(int w, int h) {\n        int unused = w * 2;\n"
                "        return w * h;\n    }\n}\n")


@dataclass(frozen=True)
class FileCase:
    """One file of a mixed call and what its report must show: ``tool`` failed on it (its
    tool_errors name that tool), or it is not analysable, or it is analysable without errors."""

    path: str
    content: bytes
    language: common_pb2.Language
    expect: str   # "findings" (control: analysable, no tool error, findings), "tool:<name>", "unanalysable", "any"


def _large_python(size: int) -> str:
    body: list[str] = []
    total = 0
    while total < size - 200:
        body.append(f"def f{len(body)}(x):\n    if x > {len(body)}:\n        return x - 1\n    return x + 1\n\n\n")
        total += len(body[-1])
    return "".join(body)


def mixed_files(large_bytes: int) -> list[FileCase]:
    rng = random.Random(0)
    junk = "".join(chr(rng.randrange(33, 0x2FFF)) for _ in range(4000))
    nested_py = "def deep(x):\n" + "".join("    " * (d + 1) + f"if x > {d}:\n" for d in range(60)) \
        + "    " * 61 + "return x\n    return 0\n"
    nested_java = ("public class Deep {\n    int f(int x) {\n" + "".join(f"if (x > {d}) {{\n" for d in range(150))
                   + "return x;\n" + "}\n" * 150 + "return 0;\n    }\n}\n")
    fstring = ('def render(name):\n\tcode = f"""\n\tclass {name}:\n\t\tdef get(self, field):\n'
               '\t\t\treturn {name}[\'{field}\']\n\t"""\n\treturn code\n')
    return [
        FileCase("control.py", CONTROL_PY.encode(), PY, "findings"),
        FileCase("Control.java", CONTROL_JAVA.encode(), JAVA, "findings"),
        FileCase("pylint_crash.py", ("x = " + "+".join(["1"] * 1000) + "\n").encode(), PY, "tool:pylint"),
        FileCase("parse_crash.py", ("x = " + "+".join(["1"] * 3000) + "\n").encode(), PY, "unanalysable"),
        FileCase("lizard_negative.py", fstring.encode(), PY, "tool:lizard"),
        FileCase("syntax_error.py", b"def broken(:\n    return\n", PY, "unanalysable"),
        FileCase("Broken.java", b"public class Broken { void f( { } }\n", JAVA, "unanalysable"),
        FileCase("junk.py", junk.encode(), PY, "unanalysable"),
        FileCase("nested.py", nested_py.encode(), PY, "any"),
        FileCase("Deep.java", nested_java.encode(), JAVA, "any"),
        FileCase("large.py", _large_python(large_bytes).encode(), PY, "any"),
    ]


def refused_calls() -> dict[str, tuple[list[common_pb2.SourceFile], str]]:
    """Calls the service must refuse: name -> (files, text the error must contain)."""
    control = common_pb2.SourceFile(path="control.py", content=CONTROL_PY.encode(), language=PY)
    return {
        "oversized": ([control, common_pb2.SourceFile(path="big.py", content=b"x = 1\n" * (OVERSIZED_BYTES // 6),
                                                      language=PY)], "files[1].content"),
        "binary": ([control, common_pb2.SourceFile(path="bin.py", content=os.urandom(4096) + b"\xff\xfe",
                                                   language=PY)], "files[1].content"),
    }


def report_problems(cases: list[FileCase], resp: analyzer_pb2.AnalyzeResponse,
                    control: dict[str, frozenset[tuple[str, int]]]) -> tuple[list[str], int, int]:
    """Problems of one mixed call's response, the files it lost (no report), its per-file tool
    errors. ``control``: each control file's findings (rule, line) from the first call, filled here."""
    problems: list[str] = []
    reports = {r.path: r for r in resp.files}
    lost = sum(1 for c in cases if c.path not in reports)
    errors = sum(len(r.tool_errors) for r in resp.files)
    for case in cases:
        r = reports.get(case.path)
        if r is None:
            continue
        tools = {e.tool for e in r.tool_errors}
        if case.expect == "findings":
            found = frozenset((f.rule, f.line) for f in r.findings)
            if not r.analyzable or r.tool_errors or not found:
                problems.append(f"{case.path}: a control file lost its analysis (analyzable={r.analyzable}, "
                                f"tool errors {sorted(tools)}, {len(found)} findings)")
            elif control.setdefault(case.path, found) != found:
                problems.append(f"{case.path}: findings changed between calls: {sorted(found)} vs "
                                f"{sorted(control[case.path])}")
        elif case.expect.startswith("tool:") and case.expect[5:] not in tools:
            problems.append(f"{case.path}: expected a {case.expect[5:]} error, got tool errors {sorted(tools)}")
        elif case.expect == "unanalysable" and r.analyzable:
            problems.append(f"{case.path}: malformed file reported analysable")
    return problems, lost, errors


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: Counter[str] = field(default_factory=Counter)
    files: int = 0
    lost: int = 0
    file_errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latency_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    problems: Counter[str] = field(default_factory=Counter)
    control: dict[str, frozenset[tuple[str, int]]] = field(default_factory=dict)
    error_files: Counter[str] = field(default_factory=Counter)


class AnalyzerService(Started):
    """The analyzer a load figure started."""


def start(ctx: Context, timeout: float = 300.0) -> AnalyzerService:
    """Start the analyzer on loopback with ``MALLOC_ENV`` in its environment."""
    from reliability.fuzz_services import MALLOC_ENV

    svc = LocalService("analyzer", log_file=ctx.workdir / "analyzer.log")
    with environment(MALLOC_ENV):  # LocalService passes this process's environment on
        try:
            ctx.check_loopback(svc.start(timeout=timeout, on_wait=ctx.log))
        except BaseException:
            svc.stop()
            raise
    return AnalyzerService(svc)


def _call(stub: analyzer_pb2_grpc.AnalyzerServiceStub, kind: str, cases: list[FileCase], tally: Tally) -> None:
    refused = refused_calls()
    if kind == "mixed":
        files = [common_pb2.SourceFile(path=c.path, content=c.content, language=c.language) for c in cases]
        must = ""
    else:
        files, must = refused[kind]
    req = analyzer_pb2.AnalyzeRequest(files=[analyzer_pb2.AnalyzedFile(file=f) for f in files])
    t0 = time.monotonic()
    try:
        resp = stub.Analyze(req, timeout=CALL_TIMEOUT_S)
        code, details = "OK", ""
    except grpc.RpcError as exc:
        resp, code, details = None, exc.code().name, exc.details() or ""
    dt = time.monotonic() - t0
    with tally.lock:
        tally.calls[kind] += 1
        tally.statuses[f"{kind}: {code}"] += 1
        tally.latency_s[kind].append(dt)
        if kind == "mixed":
            tally.files += len(files)
            if resp is None:
                tally.lost += len(files)
                tally.problems[f"a mixed call failed as a whole: {code}: {details[:160]}"] += 1
                return
            problems, lost, errors = report_problems(cases, resp, tally.control)
            tally.lost += lost
            tally.file_errors += errors
            tally.error_files.update(f"{r.path} ({e.tool})" for r in resp.files for e in r.tool_errors)
            for p in problems:
                tally.problems[p] += 1
        elif code != "INVALID_ARGUMENT" or must not in details:
            tally.problems[f"{kind} call: expected INVALID_ARGUMENT naming {must}, got {code}: {details[:160]}"] += 1
        elif kind == "oversized" and str(MAX_FILE_BYTES) not in details:
            tally.problems[f"oversized call: the error does not name the limit {MAX_FILE_BYTES}: {details[:160]}"] += 1


def sample(svc: AnalyzerService, calls: int) -> Sample:
    """The service process's own RSS and fds, and the size of its process tree (the PMD JVM)."""
    return Sample(runs=calls, rss=rss_bytes(svc.pid), fds=open_fds(svc.pid), tree=len(descendants(svc.pid)))


def children_rss(svc: AnalyzerService) -> int:
    """RSS of the service's descendants (the PMD JVM), bytes."""
    return sum(rss_bytes(pid) for pid in descendants(svc.pid))


def run(ctx: Context, svc: AnalyzerService, seconds: float | None = None) -> Section:
    """The analyzer load figure (see the module docstring)."""
    t_start = time.monotonic()
    total = ctx.count(FULL_CALLS, minimum=len(CYCLE) * MIN_MEASURED_ROUNDS)
    large = MAX_FILE_BYTES // 2 if ctx.profile.name == "full" else MAX_FILE_BYTES // 32
    cases = mixed_files(large)
    tally, flat = Tally(), Flatness()
    warm_rss: list[int] = []
    jvm_rss: list[int] = []
    measured = 0
    with open_channel(ctx.check_loopback(svc.service.address)) as channel, \
            ThreadPoolExecutor(STREAMS, thread_name_prefix="analyzer-load") as pool:
        stub = analyzer_pb2_grpc.AnalyzerServiceStub(channel)

        def one_round() -> None:
            list(pool.map(lambda k: _call(stub, k, cases, tally), CYCLE))

        warm_end = time.monotonic() + WARMUP_S
        while not (plateau_reached(warm_rss) or len(warm_rss) >= MAX_WARMUP_ROUNDS
                   or (warm_rss and time.monotonic() > warm_end)):
            one_round()
            warm_rss.append(rss_bytes(svc.pid))
        deadline = ctx.deadline(seconds)
        first = sample(svc, sum(tally.calls.values()))
        flat.add(replace(first, rss=max(first.rss, plateau_level(warm_rss))))
        jvm_rss.append(children_rss(svc))
        warm_calls = sum(tally.calls.values())
        while measured < MIN_MEASURED_ROUNDS or (measured * len(CYCLE) < total and time.monotonic() < deadline):
            one_round()
            measured += 1
            flat.add(sample(svc, sum(tally.calls.values())))
        jvm_rss.append(children_rss(svc))
    elapsed = time.monotonic() - t_start
    rows = [{"call": kind, "calls": tally.calls[kind],
             "statuses": ", ".join(f"{s.split(': ')[1]} {n}" for s, n in tally.statuses.items()
                                   if s.startswith(kind + ":")),
             "p50 s": percentile(tally.latency_s[kind], 0.5), "p99 s": percentile(tally.latency_s[kind], 0.99)}
            for kind in ("mixed", "oversized", "binary")]
    problems = [f"{n}x {p}" for p, n in tally.problems.most_common(8)] + flat.problems("analyzer")
    if not tally.calls["mixed"]:
        problems.append("no mixed call finished")
    figures = flat.figures()
    notes = [f"{sum(tally.calls.values())} calls in {elapsed:.0f}s on {STREAMS} concurrent streams; {tally.files} "
             f"files in mixed calls of {len(cases)} ({', '.join(c.path for c in cases)}; large.py "
             f"{large // 1024} KiB); per-file tool errors {tally.file_errors} "
             f"({tally.file_errors / max(1, tally.calls['mixed']):.1f} a call: "
             + ", ".join(f"{k} {n}x" for k, n in sorted(tally.error_files.items())) + ")",
             f"refused calls: a {OVERSIZED_BYTES >> 20} MiB file (limit {MAX_FILE_BYTES} bytes) and a non-UTF-8 "
             "file, each beside a valid one: INVALID_ARGUMENT naming files[1].content",
             f"rounds of {len(CYCLE)} calls ({', '.join(CYCLE)}) on {STREAMS} streams; warm-up "
             f"{len(warm_rss)} rounds ({warm_calls} calls), "
             + ("ended at the RSS plateau" if plateau_reached(warm_rss) else
                f"stopped at its bound ({MAX_WARMUP_ROUNDS} rounds or {WARMUP_S:.0f}s) "
                "before the RSS plateau")
             + f" (the last {PLATEAU_ROUNDS} rounds left it under {100 * PLATEAU_GROWTH:.0f}% over its highest reading "
             "before them; "
             "service RSS MiB after each warm-up round: " + ", ".join(f"{r / 2**20:.0f}" for r in warm_rss) + ")",
             f"judged: the service process alone (RSS within 5% of the baseline: the top of the warm-up's last "
             f"{PLATEAU_ROUNDS + 1} readings and the sample after them; fds and process "
             f"tree not grown), sampled while quiet after each of {measured} measured rounds: "
             + "; ".join(f"{k} {v}" for k, v in figures.items())
             + f"; reported, not judged: the PMD JVM child's RSS {jvm_rss[0] / 2**20:.0f} -> "
             f"{jvm_rss[-1] / 2**20:.0f} MiB (its heap grows and shrinks below -Xmx as its collector decides)",
             "service environment: MALLOC_ARENA_MAX=2, MALLOC_MMAP_THRESHOLD_=131072 (as the bad-input figures)"]
    return Section(title="concurrent Analyze of large and malformed files", service="analyzer", area="load",
                   rows=rows, lost=tally.lost, problems=problems, notes=notes, seconds=elapsed)
