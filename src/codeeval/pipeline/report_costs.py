"""What a run cost and how its answers ended: the report's costs, outcomes and truncations tables.

Costs per variant: wall seconds per stage (``results["timings"]``, summed over resumed runs),
tokens in and out, completion tokens per second of the generate stage, the peak memory of the
largest sandboxed program (``executions.jsonl``), the adapter's load time (the generator's
``load_time_ms`` in the receipt) and accelerator-seconds. No service reports an accelerator today,
so that column says "none recorded" rather than guessing.

Outcomes per task and variant: the count of every outcome; SANDBOX_ERROR and NOT_RUN are
infrastructure (the run says nothing about the model) and are left out of n, which the table says.
Truncations: the generations that stopped at max_tokens (finish reason LENGTH). Pure but for the
stage files the caller passes. Cost: O(samples).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from codeeval.pipeline.report_flips import StageFiles

INFRA = ("SANDBOX_ERROR", "NOT_RUN")
ORDER = ("PASSED", "FAILED", "COMPILE_ERROR", "RUNTIME_ERROR", "TIMEOUT", "MEMORY_EXCEEDED", "OUTPUT_LIMIT_EXCEEDED",
         "NO_CODE", "UNSPECIFIED", *INFRA)
STAGES = ("generate", "samples", "extract", "execute", "analyze", "score", "judge")


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _bytes(v: int) -> str:
    return "n/a" if not v else f"{v / 2**20:.0f} MiB"


def cost_headers(results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    stages = [s for s in STAGES if any(s in (r.get("timings") or {}) for r in results.values())]
    return ["variant", *[f"{s} s" for s in stages], "total s", "tokens in", "tokens out", "tokens/s",
            "peak memory (sandboxed program)", "adapter load", "accelerator-s"]


def cost_rows(results: Mapping[str, Mapping[str, Any]], files: Mapping[str, StageFiles]) -> list[list[str]]:
    """One row per variant, columns as :func:`cost_headers`; ``files`` by variant (missing: n/a)."""
    stages = [h.removesuffix(" s") for h in cost_headers(results)[1:] if h.endswith(" s") and h != "total s"]
    rows = []
    for variant, res in results.items():
        timings = res.get("timings") or {}
        gen = [t["generation"] for t in res["tasks"].values() if t.get("generation")]
        tokens_in, tokens_out = sum(g["prompt_tokens"] for g in gen), sum(g["completion_tokens"] for g in gen)
        origin = {o for g in gen for o in g.get("origin", [])}
        generate_s = timings.get("generate")
        rate = (f"{tokens_out / generate_s:.1f}" if generate_s and tokens_out else
                "- (samples file)" if origin == {"samples"} else "n/a")
        execs = files.get(variant, StageFiles({}, {}, {})).executions.values()
        peak = max((e.peak_memory_bytes for e in execs), default=0)
        adapter = (res.get("receipt") or {}).get("adapter") or {}
        load = adapter.get("load_time_ms")
        load_s = "- (base model)" if not adapter else f"{load / 1000:.1f} s" if load else "not recorded"
        rows.append([variant, *[_secs(timings.get(s)) for s in stages], _secs(sum(timings.values()) or None),
                     str(tokens_in), str(tokens_out), rate, _bytes(peak), load_s, "none recorded"])
    return rows


def outcome_headers(results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    seen = {o for r in results.values() for t in r["tasks"].values() for o in t.get("outcomes", {})}
    cols = [o for o in ORDER if o in seen] + sorted(seen - set(ORDER))
    return ["task", "variant", "n (scored samples)", *[f"{o} (not in n)" if o in INFRA else o for o in cols],
            "truncated at max_tokens"]


def outcome_rows(results: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """Per task and variant: n, every outcome's count, the truncated generations (of all samples)."""
    cols = [h.removesuffix(" (not in n)") for h in outcome_headers(results)[3:-1]]
    rows = []
    first: Mapping[str, Any] = next(iter(results.values()), {"tasks": {}})
    for task in first["tasks"]:
        for variant, res in results.items():
            t = res["tasks"].get(task)
            if t is None:
                continue
            counts = t.get("outcomes", {})
            n = sum(v for o, v in counts.items() if o not in INFRA)
            gen = t.get("generation") or {}
            from_file = gen.get("origin") == ["samples"]
            truncated = ("not recorded (samples file)" if from_file else
                         f"{gen['truncated']}/{t.get('samples', 0)}" if "truncated" in gen else "not recorded")
            rows.append([task, variant, str(n) if counts else "- (no execution)",
                         *[str(counts.get(o, 0)) for o in cols], truncated])
    return rows
