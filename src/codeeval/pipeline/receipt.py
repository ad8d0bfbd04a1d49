"""A run's receipt: everything that produced its numbers (the study recorded none of it).

Model and adapter hashes come from the generator (GetCapabilities, LoadAdapter), toolchains from the
sandbox's and the analyzer's GetCapabilities, prompt hashes from the shared registry, the suite by
name, version and content hash, and the machine from the OS.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from codeeval.api.analyzer.v1 import analyzer_pb2
from codeeval.api.common.v1 import common_pb2
from codeeval.api.generator.v1 import generator_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2
from codeeval.prompts import registry
from codeeval.suites import LoadedSuite


def _tool(t: common_pb2.ToolInfo) -> dict[str, str]:
    return {"name": t.name, "version": t.version, "config": t.config, "config_sha256": t.config_sha256}


def machine() -> dict[str, Any]:
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"hostname": platform.node(), "platform": platform.platform(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "memory_bytes": mem, "python": sys.version.split()[0]}


def codeeval_version() -> dict[str, str]:
    try:
        version = metadata.version("codeeval")
    except metadata.PackageNotFoundError:
        version = "unknown"
    commit = ""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
        commit = out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {"version": version, "git_commit": commit}


def prompts(loaded: LoadedSuite) -> dict[str, Any]:
    out = {}
    for task in loaded.suite.tasks:
        tp = registry.get_task_prompt(task.task_prompt)
        entry: dict[str, Any] = {"task_prompt": tp.name, "task_prompt_sha256": tp.sha256,
                                 "template": task.template or "(adapter's or model's own)"}
        if task.template:
            tmpl = registry.get_template(task.template)
            entry["template_sha256"] = tmpl.sha256
            entry["prompt_sha256"] = registry.prompt_sha256(tmpl, tp)
        out[task.name] = entry
    return out


def generator_info(caps: generator_pb2.GetCapabilitiesResponse) -> dict[str, Any]:
    return {"engine": caps.engine, "engine_version": caps.engine_version, "base_model": caps.base_model,
            "base_model_sha256": caps.base_model_sha256, "dtype": caps.dtype}


def adapter_info(info: generator_pb2.AdapterInfo) -> dict[str, Any]:
    return {"name": info.name, "path": info.path, "sha256": info.sha256, "rank": info.rank, "alpha": info.alpha,
            "target_modules": list(info.target_modules), "base_model": info.base_model,
            "size_bytes": info.size_bytes, "template": info.template, "template_sha256": info.template_sha256,
            "load_time_ms": info.load_time_ms}


def sandbox_info(caps: sandbox_pb2.GetCapabilitiesResponse) -> dict[str, Any]:
    return {"backend": caps.backend, "backend_version": caps.backend_version,
            "languages": {common_pb2.Language.Name(lang.language).removeprefix("LANGUAGE_").lower(): {
                "toolchain": [_tool(t) for t in lang.toolchain],
                "modes": [sandbox_pb2.Mode.Name(m) for m in lang.modes], "notes": lang.notes}
                for lang in caps.languages}}


def analyzer_info(caps: analyzer_pb2.GetCapabilitiesResponse) -> dict[str, Any]:
    return {"tools": [_tool(t) for t in caps.tools], "metrics": list(caps.metrics),
            "java_categories": list(caps.java_categories)}


def build_receipt(*, variant: str, loaded: LoadedSuite, model: str | None, generator: dict[str, Any],
                  adapter: dict[str, Any] | None, sandbox: dict[str, Any] | None,
                  analyzer: dict[str, Any] | None, limit: int | None, argv: list[str]) -> dict[str, Any]:
    suite = loaded.suite
    return {
        "variant": variant,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "codeeval": codeeval_version(),
        "command": argv,
        "suite": {"name": suite.name, "version": suite.version, "sha256": suite.sha256(), "path": str(loaded.path),
                  "limit": limit},
        "model": {"requested": model, **generator},
        "adapter": adapter,
        "prompts": prompts(loaded),
        "seeds": {t.name: t.generation.seed for t in suite.tasks},
        "sampling": {t.name: t.generation.model_dump() for t in suite.tasks},
        "sandbox": sandbox,
        "analyzer": analyzer,
        "machine": machine(),
    }


#: Receipt fields that must match for a run directory to be resumed.
IDENTITY = (("suite", "sha256"), ("suite", "limit"), ("model", "base_model_sha256"), ("adapter", "sha256"))


def mismatch(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """Why a run directory made with ``old`` cannot be resumed with ``new``, or None."""
    for section, key in IDENTITY:
        a, b = (old.get(section) or {}).get(key), (new.get(section) or {}).get(key)
        if a != b:
            return f"{section}.{key} was {a!r} and is now {b!r}"
    return None
