"""``codeeval suites`` (list the shipped suites) and ``codeeval suites validate``.

Exit codes: 0 ok; 2 a suite does not validate (every problem is printed with its key).
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("suites", help="list the shipped benchmark suites; `suites validate` checks suites")
    ssub = p.add_subparsers(dest="suites_command", metavar="SUBCOMMAND")
    v = ssub.add_parser("validate", help="validate suites (names, keys, readers, prompts, data) with did-you-mean")
    v.add_argument("suites", nargs="*", metavar="SUITE", help="names or YAML paths; default: every shipped suite")
    v.add_argument("--no-data", action="store_true", help="skip reading the datasets")
    v.set_defaults(func=_validate)
    p.set_defaults(func=_list_suites)


def _list_suites(args: argparse.Namespace) -> int:
    from codeeval.suites import SuiteError, list_suites, load_suite

    table = Table("suite", "version", "tasks", "description")
    for name in list_suites():
        try:
            s = load_suite(name).suite
        except SuiteError as exc:
            table.add_row(name, "-", "-", f"[red]invalid:[/] {exc}")
            continue
        table.add_row(name, s.version, ", ".join(t.name for t in s.tasks), s.description)
    Console().print(table)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from codeeval.suites import SuiteError, list_suites, load_suite, validate_suite

    console = Console()
    failed = 0
    for name in args.suites or list(list_suites()):
        try:
            problems = validate_suite(load_suite(name), check_data=not args.no_data)
        except SuiteError as exc:
            problems = [str(exc)]
        if problems:
            failed += 1
            console.print(f"[red]{name}: invalid[/]")
            for line in (ln for p in problems for ln in p.splitlines()):
                console.print(f"  {line}", markup=False, highlight=False)
        else:
            console.print(f"[green]{name}: ok[/]")
    return 2 if failed else 0
