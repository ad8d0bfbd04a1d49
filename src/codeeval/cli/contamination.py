"""``codeeval contamination``: did an adapter's training data (or given training sources) contain a
suite's items? Per task, the contaminated ids (prompt and reference separately), the short items
(exact check only), the settings; ``--json`` prints the whole result.

Exit codes: 0 clean; 1 contaminated; 2 bad input (unknown suite, missing adapter folder or training
file, bad reader or option: one line naming it); 3 contamination unknown (the adapter has no
metadata, or its training data cannot be read here: the check cannot say clean).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

USAGE_EXIT = 2
UNKNOWN_EXIT = 3


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("contamination", help="check whether training data contain a suite's items (13-gram and "
                       "exact match, prompts and references separately)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--adapter", type=Path, metavar="PATH",
                      help="adapter folder; its codeeval_adapter.json names the training data")
    what.add_argument("--train", action="append", metavar="READER:PATH[,READER:PATH...]",
                      help="training data as codeeval.data sources (repeatable), e.g. "
                           "codexglue_translation:DIR/train.java-cs.txt or jsonl:FILE with --fields/--target")
    p.add_argument("--suite", required=True, metavar="NAME", help="suite name or YAML path")
    p.add_argument("--n", type=int, default=13, help="words per n-gram (default 13; punctuation is not a word)")
    p.add_argument("--comments", action="store_true", help="remove comments before comparing")
    p.add_argument("--lowercase", action="store_true", help="compare case-insensitively")
    p.add_argument("--keep-whitespace", action="store_true",
                   help="the exact check compares whitespace too (the n-gram check never does)")
    p.add_argument("--fields", default="", metavar="FIELD=KEY[,...]", help="jsonl/hf sources: prompt field -> key")
    p.add_argument("--target", default="", metavar="KEY", help="jsonl/hf sources: the key of the target")
    p.add_argument("--direction", default="java-cs", choices=["java-cs", "cs-java"],
                   help="translation sources: which side is the input (both sides are compared either way)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="read at most N examples per source")
    p.add_argument("--against", type=Path, metavar="PATH",
                   help="--adapter: another adapter folder; prints how the two training mixtures differ")
    p.add_argument("--hub", action="store_true",
                   help="--adapter: also read training data the adapter took from the Hugging Face hub (may "
                        "download gigabytes); without it such sources make the result unknown")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_run)


def _fail(message: str) -> int:
    print(f"codeeval contamination: error: {message}", file=sys.stderr)
    return USAGE_EXIT


def _train_sources(args: argparse.Namespace) -> list[Any]:
    from codeeval.contamination import TrainingSource
    from codeeval.data import Source, check
    from codeeval.kit.errors import InvalidArgument
    from codeeval.kit.paths import expand

    options: dict[str, Any] = {}
    if args.fields:
        pairs = [p.split("=", 1) for p in args.fields.split(",") if p]
        if any(len(p) != 2 or not all(p) for p in pairs):
            raise InvalidArgument(f"{args.fields!r} is not FIELD=KEY[,FIELD=KEY...]", field="--fields")
        options["fields"] = dict(pairs)
    if args.target:
        options["target"] = args.target
    if args.direction:
        options["direction"] = args.direction
    out = []
    for spec in (s for group in args.train for s in group.split(",") if s):
        reader, sep, path = spec.partition(":")
        if not sep or not reader or not path:
            raise InvalidArgument(f"{spec!r} is not READER:PATH", field="--train")
        source = Source(reader=reader, path=expand(path), options=options)
        check(source)  # unknown reader (did-you-mean), missing option, missing file: bad input
        out.append(TrainingSource(spec, source, limit=args.limit))
    return out


def _run(args: argparse.Namespace) -> int:
    from codeeval.contamination import Settings, check, mixture_diff, read_provenance, suite_texts, training_sources
    from codeeval.kit.errors import CodeevalError
    from codeeval.suites import SuiteError, load_suite, read_items

    if args.limit is not None and args.limit < 1:
        return _fail(f"--limit: {args.limit} is below the minimum of 1")
    if args.against is not None and args.adapter is None:
        return _fail("--against compares two adapters' mixtures: give --adapter too")
    try:
        settings = Settings(n=args.n, whitespace=not args.keep_whitespace, comments=args.comments,
                            lowercase=args.lowercase)
        loaded = load_suite(args.suite)
        items = {t.name: read_items(t, loaded.base_dir) for t in loaded.suite.tasks}
        provenance = other = None
        if args.adapter is not None:
            provenance = read_provenance(args.adapter)
            other = read_provenance(args.against) if args.against is not None else None
            sources = training_sources(provenance, hub=args.hub)
            reason = provenance.reason or "the adapter's metadata names no training sources"
        else:
            sources = _train_sources(args)
            reason = ""
    except (SuiteError, CodeevalError, OSError, ValueError) as exc:
        return _fail(_flag_name(str(exc)))
    result = check(suite_texts(items), sources, settings, reason_if_none=reason)
    broken = [s for s in result.sources if s.error]
    if args.train and broken:
        return _fail(f"--train {broken[0].label}: {broken[0].error}")
    if args.json:
        out = result.to_json()
        if provenance is not None:
            out["provenance"] = provenance.to_json()
        if provenance is not None and other is not None:
            diff = mixture_diff(provenance, other)
            out["against"] = other.to_json()
            out["mixture_diff"] = None if diff is None else [asdict(d) for d in diff]
        print(json.dumps(out, indent=1))
    else:
        if provenance is not None:
            _print_provenance(provenance)
        if provenance is not None and other is not None:
            _print_diff(provenance, other)
        _print(result, loaded.suite.name)
    return {"clean": 0, "contaminated": 1}.get(result.status, UNKNOWN_EXIT)


def _flag_name(message: str) -> str:
    """Messages of a setting name its field; the flag is what the user typed."""
    return "--" + message if message.startswith("n: ") else message


def _print_provenance(p: Any) -> None:
    if p.status != "known":
        return  # the result's line gives the reason
    print(f"adapter {p.path}: {p.method} on {p.base_model} (sha256 {str(p.base_model_sha256)[:12]}), template "
          f"{p.template}, seed {p.seed}, {p.steps} steps")
    for m in p.mixture:
        print(f"  mixture {m.task}: {m.effective} of {m.available} examples ({m.proportion:.1%})")


def _print_diff(a: Any, b: Any) -> None:
    from codeeval.contamination import mixture_diff

    diff = mixture_diff(a, b)
    if diff is None:
        print(f"mixture difference unknown: {a.reason or b.reason}")
        return
    print(f"mixture {a.path} -> {b.path}:")
    for d in diff:
        share = (f"{d.a_proportion:.1%}" if d.a_proportion is not None else "-") + " -> " + \
            (f"{d.b_proportion:.1%}" if d.b_proportion is not None else "-")
        print(f"  {d.task}: {d.a_effective if d.a_effective is not None else '-'} -> "
              f"{d.b_effective if d.b_effective is not None else '-'} examples ({share})")


def _print(result: Any, suite: str) -> None:
    s = result.settings
    print(f"suite {suite}: contamination {result.status}" + (f" ({result.reason})" if result.reason else ""))
    print(f"settings: n={s.n} whitespace={'ignored' if s.whitespace else 'compared'} "
          f"comments={'removed' if s.comments else 'kept'} case={'ignored' if s.lowercase else 'compared'}")
    for src in result.sources:
        state = f"error: {src.error}" if src.error else f"sha256 {src.sha256[:12]}"
        print(f"  training source {src.label}: {src.examples} examples, {state}")
    print(f"{'task':<28} {'items':>5} {'status':<13} {'prompt':>6} {'ref':>6} {'short p/r':>10}")
    for name, t in result.tasks.items():
        print(f"{name:<28} {len(t.ids):>5} {t.status:<13} {len(t.contaminated['prompt']):>6} "
              f"{len(t.contaminated['reference']):>6} {len(t.short['prompt']):>4}/{len(t.short['reference'])}")
    for name, t in result.tasks.items():
        for side in ("prompt", "reference"):
            if t.contaminated[side]:
                print(f"{name} {side} contaminated: {', '.join(t.contaminated[side])}")
        for side in ("prompt", "reference"):
            if t.short[side]:
                print(f"{name} {side} shorter than {s.n} words (exact check only): {', '.join(t.short[side])}")
