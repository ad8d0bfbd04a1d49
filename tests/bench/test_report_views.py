"""The bench report answers "ship or not", on a bench run made through the pipeline with in-process fake
servicers (bench_fakes.py; glue only): base and an adapter on the default suite, the adapter answering
other items wrongly (flips both ways), its failures with stderr, its samples served with a template
override. The same report on the real sandbox's output is in test_report_real.py; in a real browser
at the end of this file.

What is checked: the headline per task and overall is the gate's (the one `codeeval compare` exits
with), n beside the numbers, the flipped items with both sides' code, outcome and stderr tail, costs,
outcomes and truncations, the power line, the template-override flag (issue 16), and `compare`
writing the same report.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import yaml
from bench_fakes import FakeAnalyzer, FakeGenerator, FakeSandbox, default_answers

from codeeval.api.analyzer.v1 import analyzer_pb2_grpc
from codeeval.api.generator.v1 import generator_pb2_grpc
from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.cli.main import main
from codeeval.pipeline.report_flips import CODE_LINES, clip
from codeeval.suites import load_suite


@dataclass
class OverridingGenerator(FakeGenerator):
    """Answers as FakeGenerator; for an adapter, as the real generator does when the request asks to
    override the adapter's template (the suite's tasks set ``template_override``): every response says
    template_override with the template it used."""

    def Generate(self, request, context):
        for resp in super().Generate(request, context):
            if request.adapter and request.template_override:
                resp.template, resp.template_override, resp.template_sha256 = "chatml", True, "c" * 64
            yield resp


@dataclass
class StderrSandbox(FakeSandbox):
    """FakeSandbox whose failures carry a traceback on stderr (as the real sandbox records them)."""

    def ExecuteBatch(self, request, context):
        for resp in super().ExecuteBatch(request, context):
            if resp.result.outcome == sandbox_pb2.OUTCOME_FAILED:
                resp.result.stderr = b"".join(f"line {i}\n".encode() for i in range(30)) + \
                    b"AssertionError: planted failure\n"
            yield resp


def _served(monkeypatch: pytest.MonkeyPatch, generator: FakeGenerator) -> Iterator[None]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    generator_pb2_grpc.add_GeneratorServiceServicer_to_server(generator, server)
    sandbox_pb2_grpc.add_SandboxServiceServicer_to_server(StderrSandbox(), server)
    analyzer_pb2_grpc.add_AnalyzerServiceServicer_to_server(FakeAnalyzer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    for svc in ("generator", "sandbox", "analyzer"):
        monkeypatch.setenv(f"CODEEVAL_{svc.upper()}_ADDR", f"127.0.0.1:{port}")
    yield
    server.stop(0)


PLANTED = 40  # summaries of a task big enough to gate: the adapter gets every second one wrong


def _suite(root: Path) -> Path:
    """The default suite (its item files by absolute path) plus a planted summarization task that gates."""
    loaded = load_suite("default")
    doc = yaml.safe_load(loaded.text)
    for task in doc["tasks"]:
        task["path"] = str(loaded.base_dir / task["path"])
        task["template_override"] = True  # the suite asks for it: the bench passes it on to the generator
    items = [{"id": f"s{i}", "code": f"def f{i}(x):\n    return x + {i}\n", "reference": f"Add {i} to x."}
             for i in range(PLANTED)]
    (root / "planted.yaml").write_text(yaml.safe_dump(items))
    doc["tasks"].append({"name": "summarize-planted", "kind": "summarization", "language": "python",
                         "reader": "codeeval_yaml", "path": str(root / "planted.yaml"),
                         "task_prompt": "summarize-python", "metrics": ["bleu", "chrf"]})
    (root / "suite.yaml").write_text(yaml.safe_dump(doc))
    return root / "suite.yaml"


@pytest.fixture(scope="module")
def bench_out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A bench output folder: base (every 3rd default item wrong) and adapter `tuned` (every 2nd wrong)."""
    root = tmp_path_factory.mktemp("report")
    adapter = root / "adapter"
    adapter.mkdir()
    planted = {f"summarize-planted/s{i}": f"Add {i} to x." for i in range(PLANTED)}
    gen = OverridingGenerator({**default_answers(3), **planted}, adapter_answers={
        **default_answers(2), **{k: ("It does things." if i % 2 else v) for i, (k, v) in enumerate(planted.items())}})
    suite = str(_suite(root))
    with pytest.MonkeyPatch.context() as mp:
        served = _served(mp, gen)
        next(served)
        rc = main(["bench", "--suite", suite, "--out", str(root / "out"), "--adapter", f"tuned={adapter}"])
        # the same run resumed (nothing redone) in copies: failing on the headline's regression, and
        # against a baseline (the base run itself), whose gate decides the exit code
        shutil.copytree(root / "out", root / "again")
        RCS["fail-on-regression"] = main(["bench", "--suite", suite, "--out", str(root / "again"), "--adapter",
                                          f"tuned={adapter}", "--fail-on-regression"])
        shutil.copytree(root / "out", root / "baselined")
        # the baseline alone in its run (its gate is planned on it alone: the tuned sibling's regression
        # would otherwise enter the plan's spread, see test_gate_history.py)
        shutil.copytree(root / "out" / "base", root / "accepted" / "base")
        RCS["baseline"] = main(["bench", "--suite", suite, "--out", str(root / "baselined"), "--adapter",
                                f"tuned={adapter}", "--baseline", str(root / "accepted" / "base"), "--tasks",
                                "summarize-planted"])
        next(served, None)
    assert rc == 0
    yield root / "out"


RCS: dict[str, int] = {}


def _html_text(path: Path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text()))


def test_headline_per_task_and_overall_is_the_gate_compare_exits_with(bench_out: Path, capsys):
    gates = json.loads((bench_out / "comparison.json").read_text())["gates"]
    assert [(g["a"], g["b"]) for g in gates] == [("base", "tuned")]
    capsys.readouterr()
    rc = main(["compare", str(bench_out / "base"), str(bench_out / "tuned"), "--out", str(bench_out / "cmp")])
    # the planted task is the one that can gate: its chrf drop decides, and compare exits 1 on the same pair
    assert gates[0]["verdict"] == "regression" and rc == 1
    md = (bench_out / "report.md").read_text()
    assert "**REGRESSED**: tuned vs base: decided by summarize-planted (1 regressed, 6 inconclusive of 7 tasks)" in md
    assert "**REGRESSED**: " in (bench_out / "cmp" / "report.md").read_text()
    headline = md.split("## Headline")[1].split("\n## ")[0]
    assert "| summarize-planted | regressed | chrf upper bound " in headline and "(n 40) | 40 |" in headline
    for task in ("codegen-python", "codegen-java", "translate-java-cs", "summarize-python", "summarize-planted"):
        row = next(line for line in headline.splitlines() if line.startswith(f"| {task} |"))
        mine = [r for r in gates[0]["results"] if r["task"] == task]
        if mine:  # a gating task: its metrics' verdicts and reasons, with n
            assert all(r["reason"] in row and f"(n {r['n']})" in row for r in mine), row
        else:  # none of its metrics can gate: inconclusive, and the reason says why
            assert "| inconclusive | not gat" in row, row
    # these 4-8 item tasks cannot detect a 10-point drop: the power section says so per metric
    power = md.split("## Power")[1].split("\n## ")[0]
    assert "| codegen-python | pass@1 | binary | 8 |" in power and "NOT GATING" in power
    assert "can never fire" in power or "cannot tell" in power


def test_bench_exit_codes_follow_the_headline(bench_out: Path):
    assert RCS["fail-on-regression"] == 1  # the headline says regressed: --fail-on-regression fails
    baselined = bench_out.parent / "baselined"
    gates = json.loads((baselined / "comparison.json").read_text())["gates"]
    accepted = bench_out.parent / "accepted" / "base"
    assert [(g["a"], g["b"], g["verdict"]) for g in gates] == [
        ("base", "tuned", "regression"), (f"baseline {accepted}", "base", "no regression"),
        (f"baseline {accepted}", "tuned", "regression")]
    assert RCS["baseline"] == 1  # bench --baseline: the gate of every variant against the baseline
    md = (baselined / "report.md").read_text()
    assert f"**NO CHANGE**: base vs baseline {accepted}" in md
    assert f"**REGRESSED**: tuned vs baseline {accepted}" in md


def test_one_variant_says_there_is_nothing_to_compare_and_what_a_gate_could_detect(bench_out: Path):
    from codeeval.pipeline.report import write_reports

    base = json.loads((bench_out / "base" / "results.json").read_text())
    out = bench_out.parent / "single"
    out.mkdir()
    shutil.copytree(bench_out / "base", out / "base")
    md = write_reports(out, {"base": base})["md"].read_text()
    assert "**NOTHING TO COMPARE**: one variant and no --baseline." in md
    assert "### if base were the baseline" in md and "| summarize-planted | chrf | continuous | 40 |" in md
    assert "## Flipped items" not in md and "## Costs" in md


def test_flipped_items_show_both_sides_code_outcome_and_stderr_tail(bench_out: Path):
    md = (bench_out / "report.md").read_text()
    flipped = md.split("## Flipped items")[1].split("\n## ")[0]
    # codegen-python: base fails items 0, 3, 6; tuned fails 0, 2, 4, 6 -> 2 pass->fail (2, 4), 1 fail->pass (3)
    assert "codegen-python: 3 items changed" in flipped
    drops = re.findall(r"#### (\S+): pass->fail \(base: pass 1/1, PASSED; tuned: pass 0/1, FAILED\)", flipped)
    gains = re.findall(r"#### (\S+): fail->pass \(base: pass 0/1, FAILED; tuned: pass 1/1, PASSED\)", flipped)
    assert len(drops) >= 2 and len(gains) >= 1
    block = flipped.split(f"#### {drops[0]}: pass->fail")[1].split("####")[0]
    assert "base code (PASSED):" in block and "tuned code (FAILED):" in block and "# FAIL" in block
    assert "tuned stderr (tail):" in block and "AssertionError: planted failure" in block
    assert "[19 earlier lines not shown]" in block and "\nline 3\n" not in block  # the tail, its cut said
    # the HTML has the same items
    assert drops[0] in _html_text(bench_out / "report.html")
    # summaries: the answers, without an outcome; the 20 drops of the planted task, all listed
    assert "summarize-planted: 20 items with a lower chrf" in flipped
    assert re.search(r"#### s1: chrf -1.000 \(base: chrf 1.000; tuned: chrf 0.000\)\nbase answer:\n```\nAdd 1 to x.",
                     flipped)


def test_clip_says_what_it_cut():
    long = "\n".join(f"x{i}" for i in range(CODE_LINES + 5))
    assert clip(long, CODE_LINES).endswith("[5 more lines not shown]")
    assert clip(long, 3, tail=True).splitlines() == [f"[{CODE_LINES + 2} earlier lines not shown]",
                                                     f"x{CODE_LINES + 2}", f"x{CODE_LINES + 3}", f"x{CODE_LINES + 4}"]
    assert clip("short", 3) == "short"


def test_costs_outcomes_truncations_and_n(bench_out: Path):
    md = (bench_out / "report.md").read_text()
    costs = md.split("## Costs")[1].split("\n## ")[0]
    timings = json.loads((bench_out / "tuned" / "results.json").read_text())["timings"]
    assert set(timings) >= {"generate", "extract", "execute", "analyze", "score"}
    tuned = next(line for line in costs.splitlines() if line.startswith("| tuned |"))
    assert f"| {timings['generate']:.1f} |" in tuned and "none recorded" in tuned
    assert "| base |" in costs and "- (base model)" in costs
    outcomes = md.split("## Outcomes and truncations")[1].split("\n## ")[0]
    assert "SANDBOX_ERROR and NOT_RUN are infrastructure" in outcomes
    # the fake sandbox has no C#: 4 NOT_RUN, left out of n
    row = next(line for line in outcomes.splitlines() if line.startswith("| translate-java-cs | base |"))
    assert row.startswith("| translate-java-cs | base | 0 |") and "| 4 |" in row
    row = next(line for line in outcomes.splitlines() if line.startswith("| codegen-python | tuned |"))
    assert row.startswith("| codegen-python | tuned | 8 | 4 | 4 |") and row.endswith("| 0/8 |")
    results = md.split("## Results")[1].split("\n## ")[0]
    assert "| codegen-python | base | 8 items, 8 samples |" in results and "n 8" in results


def test_template_override_is_counted_in_results_and_flagged_in_headline_and_receipt(bench_out: Path):
    tuned = json.loads((bench_out / "tuned" / "results.json").read_text())
    base = json.loads((bench_out / "base" / "results.json").read_text())
    assert "template_override" not in base
    # every task of the default suite asks for the override; the planted task does not, and is not flagged
    total = sum(t["samples"] for name, t in tuned["tasks"].items() if name != "summarize-planted")
    assert tuned["template_override"]["codegen-python"] == 8 and sum(tuned["template_override"].values()) == total
    assert "summarize-planted" not in tuned["template_override"]
    assert tuned["tasks"]["codegen-python"]["generation"]["template_override"] == {
        "samples": 8, "templates": [f"chatml {'c' * 12}"]}
    md = (bench_out / "report.md").read_text()
    headline = md.split("## Headline")[1].split("\n## ")[0]
    assert f"tuned: TEMPLATE OVERRIDE: {total} samples" in headline and "chatml cccccccccccc" in headline
    assert "(smollm2" in headline  # the template the adapter was trained with
    receipt = md.split("## Receipt")[1]
    assert "TEMPLATE OVERRIDE" in receipt


def test_compare_writes_the_same_report_and_prints_its_path(bench_out: Path, capsys):
    out = bench_out / "cmp2"
    main(["compare", str(bench_out / "base"), str(bench_out / "tuned"), "--out", str(out)])
    printed = capsys.readouterr().out
    assert f"report: {(out / 'report.html').resolve()}" in printed
    md = (out / "report.md").read_text()
    for section in ("## Headline", "## Gate", "## Power", "## Flipped items", "## Outcomes and truncations",
                    "## Costs", "## Results", "## Plots", "## Receipt"):
        assert section in md
    bench_md = (bench_out / "report.md").read_text()

    def items(text: str, a: str, b: str) -> set[str]:
        flipped = text.split("## Flipped items")[1].split("\n## ")[0]
        return {line.replace(a, "A").replace(b, "B") for line in flipped.splitlines() if line.startswith("####")}

    found = items(md, "baseline", "candidate")
    assert len(found) > 5 and found == items(bench_md, "base", "tuned")
    # default: the candidate's folder
    main(["compare", str(bench_out / "base"), str(bench_out / "tuned")])
    assert f"report: {(bench_out / 'tuned' / 'report.html').resolve()}" in capsys.readouterr().out


def test_compare_keeps_its_exit_code_when_the_report_cannot_be_written(bench_out: Path, capsys):
    blocked = bench_out.parent / "a-file"
    blocked.write_text("not a folder")
    assert main(["compare", str(bench_out / "base"), str(bench_out / "tuned"), "--out", str(blocked)]) == 1
    err = capsys.readouterr().err
    assert f"warning: no report written to {blocked}" in err and "Traceback" not in err


# --- in a real browser ------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE = """<script>
window.__errors = [];
window.onerror = function (msg) { window.__errors.push(String(msg)); };
window.addEventListener('load', function () {
  var bad = [];
  var svgs = document.querySelectorAll('svg');
  svgs.forEach(function (svg, i) {
    var box = svg.getBoundingClientRect();
    var marks = svg.querySelectorAll('rect, circle, line, path').length;
    if (!(box.width > 0 && box.height > 0)) bad.push('svg ' + i + ' has an empty box');
    if (marks < 1) bad.push('svg ' + i + ' has no mark');
  });
  var out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = 'PROBE svgs=' + svgs.length + ' bad=' + JSON.stringify(bad) + ' errors=' +
    JSON.stringify(window.__errors) + ' END';
  document.body.appendChild(out);
});
</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--no-first-run", "--hide-scrollbars", *args], capture_output=True, text=True,
                          timeout=120)


def png_pixels(path: Path) -> tuple[int, int, set[bytes]]:
    """(width, height, distinct pixel values) of an 8-bit RGB/RGBA non-interlaced PNG (what Chromium
    writes), decoded with zlib and the PNG filters."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = (int.from_bytes(body[0:4], "big"), int.from_bytes(body[4:8], "big"),
                                            body[8], body[9])
            assert depth == 8 and colour in (2, 6) and body[12] == 0, "unexpected PNG format"
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, prev, seen = zlib.decompress(idat), width * bpp, bytearray(width * bpp), set()
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        seen.update(bytes(line[i:i + bpp]) for i in range(0, stride, bpp * 7))  # every 7th pixel suffices
        prev = line
    return width, height, seen


@pytest.mark.slow  # one Chromium launch: ~3 s of CPU, 15-30 s of wall time on a loaded 2-core machine
@pytest.mark.integration
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="chromium is not installed (scripts/install-system-deps.sh installs it)")
def test_report_renders_in_headless_chromium_without_errors_and_with_drawn_plots(bench_out: Path):
    """The report with a probe script injected into a copy (the report itself has no script): the probe
    collects script errors and checks every SVG's box and marks after load, and writes what it found
    into the DOM that Chromium dumps; the same launch writes the screenshot (the probe's line lies
    below the captured window)."""
    assert CHROMIUM is not None, "CI must have chromium (scripts/install-system-deps.sh)"
    html = (bench_out / "report.html").read_text()
    assert "<script" not in html.lower()  # the report itself runs nothing
    probe = bench_out / "report-probe.html"
    probe.write_text(html.replace("<head>", "<head>" + PROBE, 1))
    shot = bench_out / "report.png"
    run = _chromium("--window-size=1400,2400", f"--screenshot={shot}", "--virtual-time-budget=5000", "--dump-dom",
                    probe.as_uri())
    found = re.search(r"PROBE svgs=(\d+) bad=(.*?) errors=(.*?) END", run.stdout)
    assert found, run.stderr[-2000:]
    svgs, bad, errors = int(found[1]), json.loads(found[2]), json.loads(found[3])
    assert svgs == html.count("<svg") >= 4 and bad == [] and errors == []
    assert shot.is_file(), run.stderr[-2000:]
    width, height, colours = png_pixels(shot)
    assert (width, height) == (1400, 2400) and len(colours) > 20, (width, height, len(colours))
