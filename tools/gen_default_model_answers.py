"""Regenerate the default model's own answers on the default suite's code tasks, the fixture of
tests/bench/test_extract_default_model.py (the parser extractor against the regular expressions).

The answers come from the generator service exactly as ``codeeval bench`` asks for them (the suite's
task prompts, the model's own chat template, the suite's max_tokens), once greedy (seed 0) and
``--samples`` times sampled at ``--temperature`` (seed 1), for each variant: the base model and each
``--adapter NAME=PATH``. Written beside each other:

* ``OUT.jsonl``: one answer a line (task, item, language, entry point, sample, seed, temperature,
  adapter, template and its sha256, the prompt's sha256, finish reason, tokens, text), sorted;
* ``OUT.provenance.json``: model and adapter sha256, engine and version, templates with their hashes,
  suite name/version/sha256, sampling, date, codeeval commit and the command line.

The generator is ``$CODEEVAL_GENERATOR_ADDR`` or a local one started for the run (its engine per
``$CODEEVAL_GENERATOR_ENGINE``). Cost: 21 items x (1 + samples) answers per variant of up to 256
tokens, 8 Generate calls; the fixture's 84 took 25 minutes with the vLLM engine (its start included)
on a 2-core machine at a load average of about 20.

    .venv/bin/python tools/gen_default_model_answers.py
    .venv/bin/python tools/gen_default_model_answers.py --adapter mine=runs/adapter --out /tmp/answers
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "bench" / "fixtures" / "default_model_answers"
#: The default suite's tasks whose answers are code (summaries are not extracted as code).
CODE_TASKS = ("codegen-python", "codegen-java", "translate-cs-java", "translate-java-cs")


def _parse_adapter(value: str) -> tuple[str, Path]:
    name, sep, path = value.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"--adapter {value!r}: expected NAME=PATH")
    return name, Path(path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="path without suffix (default: the test fixture)")
    p.add_argument("--samples", type=int, default=3, help="sampled answers per item besides the greedy one")
    p.add_argument("--temperature", type=float, default=0.8, help="temperature of the sampled answers")
    p.add_argument("--adapter", type=_parse_adapter, action="append", default=[], metavar="NAME=PATH",
                   help="also answer with this PEFT adapter (repeatable)")
    args = p.parse_args(argv)
    if args.samples < 0 or not 0.0 < args.temperature <= 2.0:
        p.error("--samples must be >= 0 and --temperature in (0, 2]")
    records, provenance = generate(args.samples, args.temperature, args.adapter)
    provenance["command"] = ["tools/gen_default_model_answers.py", *_portable_args(argv if argv is not None
                                                                                   else sys.argv[1:])]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records),
                                         encoding="utf-8")
    Path(f"{args.out}.provenance.json").write_text(json.dumps(provenance, indent=1, sort_keys=True) + "\n",
                                                   encoding="utf-8")
    print(f"{len(records)} answers -> {args.out}.jsonl", file=sys.stderr)
    return 0


def generate(samples: int, temperature: float, adapters: list[tuple[str, Path]]) -> tuple[list[dict[str, Any]],
                                                                                           dict[str, Any]]:
    """The answers of every variant and the run's provenance (without the command line)."""
    from codeeval.clients import GeneratorClient, PromptToGenerate, Sampling
    from codeeval.pipeline.receipt import adapter_info, codeeval_version, generator_info
    from codeeval.pipeline.stages import prompt_messages
    from codeeval.records import Sample
    from codeeval.suites import load_suite, read_items

    loaded = load_suite("default")
    tasks = [t for t in loaded.suite.tasks if t.name in CODE_TASKS]
    items = {t.name: read_items(t, loaded.base_dir) for t in tasks}
    records: list[dict[str, Any]] = []
    with GeneratorClient(wait_s=60.0) as client:
        caps = client.capabilities()
        provenance: dict[str, Any] = {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "codeeval": codeeval_version(),
            "model": generator_info(caps),
            "suite": {"name": loaded.suite.name, "version": loaded.suite.version, "sha256": loaded.suite.sha256()},
            "tasks": list(CODE_TASKS),
            "sampling": [{"temperature": 0.0, "n": 1, "seed": 0}],
            "adapters": {},
        }
        if samples:
            provenance["sampling"].append({"temperature": temperature, "n": samples, "seed": 1})
        for name, path in adapters:
            info = adapter_info(client.load_adapter(name, str(path.resolve())))
            provenance["adapters"][name] = {**info, "path": _portable(info["path"])}
        for adapter in ["", *(name for name, _ in adapters)]:
            for task in tasks:
                prompts = [PromptToGenerate(task.name, it.id, prompt_messages(task, it)) for it in items[task.name]]
                for spec in provenance["sampling"]:
                    sampling = Sampling(temperature=spec["temperature"], top_p=task.generation.top_p,
                                        max_tokens=task.generation.max_tokens, n=spec["n"], seed=spec["seed"],
                                        stop=list(task.generation.stop))
                    got: list[Sample] = []
                    client.generate(prompts, sampling, got.append, adapter=adapter, template=task.template or "")
                    functions = {it.id: it.function for it in items[task.name]}
                    records.extend(_record(s, task.language, functions[s.item], spec["temperature"]) for s in got)
    records.sort(key=lambda r: (r["adapter"], r["task"], r["item"], r["temperature"], r["sample"]))
    provenance["templates"] = sorted({f"{r['template']} {r['template_sha256']}" for r in records})
    provenance["answers"] = len(records)
    return records, provenance


def _portable(path: str) -> str:
    """``path`` relative to the repository when inside it, else its last component: a fixture names
    no folder of the machine that made it."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else f".../{resolved.name}"


def _portable_args(argv: list[str]) -> list[str]:
    """The command line with every path (``--out``, ``--adapter NAME=PATH``) made :func:`_portable`."""
    out: list[str] = []
    for i, arg in enumerate(argv):
        flag, eq, value = arg.partition("=")
        if eq and flag in ("--out", "--adapter"):
            out.append(f"{flag}={_portable_value(flag, value)}")
        elif i > 0 and argv[i - 1] in ("--out", "--adapter"):
            out.append(_portable_value(argv[i - 1], arg))
        else:
            out.append(arg)
    return out


def _portable_value(flag: str, value: str) -> str:
    if flag == "--adapter":
        name, _, path = value.partition("=")
        return f"{name}={_portable(path)}"
    return _portable(value)


def _record(sample: Any, language: str, function: str, temperature: float) -> dict[str, Any]:
    return {"task": sample.task, "item": sample.item, "language": language, "entry_point": function,
            "sample": sample.sample, "seed": sample.seed, "temperature": temperature, "adapter": sample.adapter,
            "template": sample.template, "template_sha256": sample.template_sha256,
            "prompt_sha256": sample.prompt_sha256, "finish_reason": sample.finish_reason.to_json(),
            "completion_tokens": sample.completion_tokens, "text": sample.text}


if __name__ == "__main__":
    sys.exit(main())
