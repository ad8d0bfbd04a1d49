"""Progress output: log lines when the output is not a terminal (CI), bars on a terminal."""

import io

from rich.console import Console

from codeeval.cli.bench import LineReporter, RichReporter, progress_reporter


def test_log_lines_at_start_every_tenth_and_end() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with progress_reporter(console) as reporter:
        assert isinstance(reporter, LineReporter)
        reporter.begin_variant("base")
        advance = reporter.stage("generate", total=20)
        for _ in range(20):
            advance(1)
    lines = out.getvalue().splitlines()
    assert lines[0] == "base: generate 0/20"
    assert [ln.split(" (")[0] for ln in lines[1:]] == [f"base: generate {n}/20" for n in range(2, 21, 2)]


def test_resumed_stage_says_so_and_counts_from_where_it_was() -> None:
    out = io.StringIO()
    reporter = LineReporter(Console(file=out, force_terminal=False, width=200))
    reporter.begin_variant("lora")
    advance = reporter.stage("execute", total=4, done=3)
    advance(1)
    assert out.getvalue().splitlines()[0] == "lora: execute 3/4 (resumed)"
    assert out.getvalue().splitlines()[1].startswith("lora: execute 4/4 (")


def test_terminal_gets_bars() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with progress_reporter(console) as reporter:
        assert isinstance(reporter, RichReporter)
        reporter.stage("generate", total=2)(2)
        assert reporter.progress.tasks[0].completed == 2
