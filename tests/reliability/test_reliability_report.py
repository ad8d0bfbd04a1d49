"""The figures' writer and runner: a figure that lost a result or found a problem does not hold, the
markdown says so, and an area that crashes becomes a figure that does not hold (exit 1)."""

from __future__ import annotations

import json
import os
import re
import sys
import types
from pathlib import Path

import pytest

from reliability import __main__ as runner
from reliability.context import Context
from reliability.report import PROFILES, Section, provenance, render_markdown, write


def test_section_holds_only_without_problems_and_losses() -> None:
    assert Section("a", "sandbox", "load").ok
    assert not Section("a", "sandbox", "load", lost=1).ok
    assert not Section("a", "sandbox", "load", problems=["INTERNAL seen"]).ok
    with pytest.raises(ValueError, match="area"):
        Section("a", "sandbox", "nonsense")


def test_markdown_and_json(tmp_path: Path) -> None:
    sections = [Section("ExecuteBatch", "sandbox", "bad-input", rows=[{"status": "OK", "count": 3},
                                                                      {"status": "INVALID_ARGUMENT", "count": 9}]),
                Section("replica killed", "sandbox", "fault", lost=2, problems=["2 programs missing"])]
    prov = provenance(PROFILES["short"])
    md = render_markdown(sections, prov)
    assert "**1 of 2 figures hold; results lost: 2.**" in md
    assert "| sandbox | fault | replica killed | NO | 2 |" in md
    assert "| INVALID_ARGUMENT | 9 |" in md and "- 2 programs missing" in md
    write(sections, prov, tmp_path / "new" / "R.md", tmp_path / "r.json")  # a folder not there yet is made
    assert (tmp_path / "new" / "R.md").read_text() == md
    data = json.loads((tmp_path / "r.json").read_text())
    assert [s["ok"] for s in data["sections"]] == [True, False]
    assert data["provenance"]["profile"] == "short"


def test_context_bounds_and_loopback(tmp_path: Path) -> None:
    ctx = Context(PROFILES["short"], tmp_path)
    assert ctx.count(1000) == 50 and ctx.count(3) == 1
    assert ctx.check_loopback("127.0.0.1:5000") and ctx.check_loopback("ipv4:127.0.0.1:1,127.0.0.2:2")
    with pytest.raises(ValueError, match="loopback"):
        ctx.check_loopback("ipv4:127.0.0.1:1,10.0.0.1:2")


def test_crashing_area_is_a_figure_that_does_not_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx: Context) -> list[Section]:
        raise RuntimeError("replica did not start")

    def fine(ctx: Context) -> list[Section]:
        assert ctx.workdir.is_dir()
        return [Section("fine", "analyzer", "load", rows=[{"n": 1}])]

    monkeypatch.setitem(sys.modules, "reliability.faults", types.SimpleNamespace(run=boom))
    monkeypatch.setitem(sys.modules, "reliability.load", types.SimpleNamespace(run=fine))
    out = tmp_path / "R.md"
    assert runner.main(["--profile", "short", "--only", "load,faults", "--out", str(out)]) == 1
    text = out.read_text()
    assert "replica did not start" in text and "| analyzer | load | fine | yes |" in text
    assert "- wall_s per area (start-ups included): load 0, faults 0" in text
    monkeypatch.setitem(sys.modules, "reliability.faults", types.SimpleNamespace(run=fine))
    assert runner.main(["--profile", "short", "--only", "load,faults", "--out", str(out)]) == 0
    with pytest.raises(SystemExit) as exc:
        runner.main(["--only", "nonsense"])
    assert exc.value.code == 2


def test_environment_is_put_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from reliability.context import environment

    monkeypatch.setenv("CODEEVAL_REL_KEPT", "before")
    monkeypatch.delenv("CODEEVAL_REL_NEW", raising=False)
    with pytest.raises(RuntimeError), environment({"CODEEVAL_REL_KEPT": "during", "CODEEVAL_REL_NEW": "x"}):
        assert os.environ["CODEEVAL_REL_KEPT"] == "during" and os.environ["CODEEVAL_REL_NEW"] == "x"
        raise RuntimeError
    assert os.environ["CODEEVAL_REL_KEPT"] == "before" and "CODEEVAL_REL_NEW" not in os.environ


def test_figures_are_written_after_each_area(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """An area that stops the whole run (Ctrl-C) leaves the areas before it on disk, marked unfinished;
    progress lines carry the time."""
    def fine(ctx: Context) -> list[Section]:
        return [Section("fine", "analyzer", "load")]

    def interrupted(ctx: Context) -> list[Section]:
        raise KeyboardInterrupt

    monkeypatch.setitem(sys.modules, "reliability.load", types.SimpleNamespace(run=fine))
    monkeypatch.setitem(sys.modules, "reliability.faults", types.SimpleNamespace(run=interrupted))
    out = tmp_path / "R.md"
    with pytest.raises(KeyboardInterrupt):
        runner.main(["--profile", "short", "--only", "load,faults", "--out", str(out)])
    text = out.read_text()
    assert "| analyzer | load | fine | yes |" in text and "- unfinished: 1 of 2 areas done" in text
    err = capsys.readouterr().err
    assert re.search(r"^\[reliability \d\d:\d\d:\d\d\] load: 1 of 1 figures hold in \d+s$", err, re.M), err


def test_services_selector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[frozenset[str]] = []

    def record(ctx: Context) -> list[Section]:
        seen.append(ctx.services)
        assert ctx.wants("analyzer") and not ctx.wants("sandbox")
        return []

    monkeypatch.setitem(sys.modules, "reliability.load", types.SimpleNamespace(run=record))
    out = tmp_path / "R.md"
    assert runner.main(["--only", "load", "--services", "analyzer, generator", "--out", str(out)]) == 0
    assert seen == [frozenset({"analyzer", "generator"})] and "- services: analyzer,generator" in out.read_text()
    assert Context(PROFILES["short"], tmp_path).wants("sandbox")  # none named: all
    with pytest.raises(SystemExit) as exc:
        runner.main(["--services", "sandbx"])
    assert exc.value.code == 2


def test_load_area_runs_only_the_services_wanted(tmp_path: Path) -> None:
    from reliability import load

    assert load.run(Context(PROFILES["short"], tmp_path, services=frozenset({"trainer"}))) == []
