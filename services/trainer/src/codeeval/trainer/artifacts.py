"""The finished artifact: a PEFT adapter folder (or a full model) plus ``codeeval_adapter.json``,
which records everything that produced it: config, base model and its hash, chat template and
task prompts with their hashes, data mixture with counts, the data's hash per task (``data_sha256``:
:func:`codeeval.contamination.check.examples_sha256` of the examples read), final metrics, cost,
seed, versions.

The generator reads ``template``, ``template_sha256`` and ``template_rendered_sha256`` from this file
to render prompts with the template the adapter was trained with, and refuses another one unless a
request overrides it. ``template`` is a registry name, or ``model:<sha12>`` when the adapter was
trained with the base model's own chat template (then ``template_sha256`` is the sha256 of that
template string). ``template_rendered_sha256`` hashes the template's rendering of a fixed probe
conversation (:func:`codeeval.prompts.rendered_sha256`): two definitions of one format (the registry's
``smollm2`` and SmolLM2's own Jinja template) render alike, so the generator accepts either.
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import torch

from codeeval.prompts import Template, get_template, rendered_sha256
from codeeval.prompts.registry import TEMPLATES

METADATA_FILE = "codeeval_adapter.json"
_PACKAGES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "codeeval", "codeeval-trainer")


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def peak_memory_bytes() -> int:
    """Peak device memory on CUDA, else this process's peak resident set size (Linux: KiB)."""
    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def folder_sha256(path: Path) -> str:
    """sha256 over the artifact's weight/config files (not the metadata file), sorted by name."""
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and p.name != METADATA_FILE):
        digest.update(str(f.relative_to(path)).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def save_model(model: torch.nn.Module, tokenizer: Any, out: Path, kind: str,
               state_dict: dict[str, torch.Tensor] | None = None) -> None:
    """Adapter weights only for LoRA methods; the whole model and tokenizer for full fine-tuning.
    ``state_dict`` is the gathered full state of an FSDP-sharded model."""
    out.mkdir(parents=True, exist_ok=True)
    # save_pretrained comes from transformers/PEFT; nn.Module's stubs only know tensors and submodules.
    pretrained = cast(Any, model)
    if state_dict is not None:
        pretrained.save_pretrained(out, state_dict=state_dict)
    else:
        pretrained.save_pretrained(out)
    if kind == "full":
        tokenizer.save_pretrained(out)


def template_record(template: Template) -> dict[str, str]:
    """The metadata fields naming the template an artifact was trained with."""
    return {"template": template.name, "template_sha256": template.sha256,
            "template_rendered_sha256": rendered_sha256(template)}


def write_metadata(out: Path, meta: dict[str, Any], template: Template | None = None) -> dict[str, Any]:
    """Write ``meta``, completed with :func:`template_record` of ``template`` (else of the registry
    template ``meta["template"]`` names) so that every artifact records its template's rendering."""
    if template is not None:
        meta = {**meta, **template_record(template)}
    elif "template_rendered_sha256" not in meta and meta.get("template") in TEMPLATES:
        meta = {**meta, "template_rendered_sha256": rendered_sha256(get_template(str(meta["template"])))}
    (out / METADATA_FILE).write_text(json.dumps(meta, indent=1, sort_keys=True))
    return meta


def read_metadata(out: Path) -> dict[str, Any]:
    return json.loads((out / METADATA_FILE).read_text())
