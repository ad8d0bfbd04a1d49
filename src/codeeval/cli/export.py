"""``codeeval export RUN --format lm-eval|evalplus --out FILE``: a finished bench run (a variant
folder) as an lm-evaluation-harness results JSON or an EvalPlus eval_results.json
(:mod:`codeeval.pipeline.export`).

Exit codes: 0 written; 2 bad input (not a run folder, an unfinished run, a bench output folder
instead of one of its variants, an unknown format or task), printed as one line naming it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from codeeval.pipeline.export import FORMATS

    p = sub.add_parser("export", help="write a bench run's results as lm-evaluation-harness or EvalPlus JSON")
    p.add_argument("run", type=Path, metavar="RUN", help="a finished run folder (a variant: OUT/base, OUT/NAME)")
    p.add_argument("--format", required=True, choices=FORMATS, help="lm-eval (results JSON) or evalplus "
                   "(eval_results.json of one executed task)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE", help="the JSON file to write")
    p.add_argument("--task", help="evalplus: the executed task to export (needed when the run has several)")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from codeeval.cli.main import ExitCode
    from codeeval.kit.errors import CodeevalError
    from codeeval.pipeline.export import export

    try:
        data = export(args.run, args.format, args.task)
    except CodeevalError as exc:
        print(f"codeeval export: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.format}, {len(data.get('results') or data.get('eval') or {})} "
          f"{'tasks' if args.format == 'lm-eval' else 'items'})", file=sys.stderr)
    return ExitCode.OK
