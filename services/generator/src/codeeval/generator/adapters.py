"""The adapter registry: validates a PEFT folder before the engine sees it, serialises load and
unload per name, and tracks in-flight use so an adapter is never removed under a generation.

Validation, in order (first failure wins, each with the field and the limit in its message):
name syntax -> INVALID_ARGUMENT; runtime loading off -> FAILED_PRECONDITION; folder missing ->
NOT_FOUND; adapter_config.json missing/unreadable, not LoRA, no weights, rank > max_lora_rank,
target modules absent from the base model, trained on another base model -> FAILED_PRECONDITION;
name taken without ``replace`` -> ALREADY_EXISTS; registry full -> RESOURCE_EXHAUSTED.

Where adapter paths are resolved (the ONE place): :func:`resolve_adapter_path`, in the generator,
against the generator's file system; clients pass the path through unchecked. A path that is not a
folder there but looks like a hub id (``org/name`` or ``org/name@revision``) is downloaded from the
Hugging Face hub into its cache; no hub -> UNAVAILABLE, no such repository -> NOT_FOUND.

An adapter without ``codeeval_adapter.json`` (trained by another tool: TRL, axolotl, ...) has
template "unknown" and is served with the model's own template.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codeeval.generator.engine import BaseModelInfo, Engine
from codeeval.kit.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
)

METADATA_FILE = "codeeval_adapter.json"
UNKNOWN_TEMPLATE = "unknown"
HUB_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")


@dataclass(frozen=True)
class AdapterRecord:
    name: str
    path: str
    rank: int
    alpha: float
    target_modules: tuple[str, ...]
    base_model: str
    size_bytes: int
    sha256: str
    load_time_ms: int
    template: str = UNKNOWN_TEMPLATE
    template_sha256: str = ""
    template_rendered_sha256: str = ""


async def resolve_adapter_path(path: str) -> Path:
    """The local folder for ``path`` (see the module docstring). Cost: none for a folder; a hub
    download (network, seconds to minutes) the first time for a hub id, then the hub's cache."""
    local = Path(path).expanduser()
    try:
        exists = local.exists()
    except (OSError, ValueError) as exc:  # too long for the file system, a NUL byte
        shown = path if len(path) <= 60 else f"{path[:40]}...({len(path)} chars)"
        raise InvalidArgument(f"{shown!r} is not a usable path on the generator ({type(exc).__name__}: "
                              f"{getattr(exc, 'strerror', None) or exc})", field="path") from None
    if exists or not HUB_ID_RE.match(path):
        return local
    repo, _, revision = path.partition("@")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
    except ImportError:
        raise FailedPrecondition(f"adapter {path!r} is not a folder on the generator and huggingface_hub is not "
                                 "installed to fetch it from the hub", field="path") from None
    try:
        return Path(await asyncio.to_thread(snapshot_download, repo, revision=revision or None))
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise NotFound(f"adapter {path!r} is neither a folder on the generator nor a hub repository "
                       f"({type(exc).__name__})", field="path") from None
    except Exception as exc:  # noqa: BLE001 - no network, proxy, offline mode: all mean "hub unreachable"
        raise Unavailable(f"adapter {path!r} is not a folder on the generator and the Hugging Face hub is not "
                          f"reachable from it ({type(exc).__name__}: {str(exc)[:200]})", field="path") from None


def folder_sha256(path: Path) -> str:
    """sha256 over the folder's files sorted by relative path (path, then bytes)."""
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(f.relative_to(path)).encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()


def _same_model(a: str, b: str) -> bool:
    """Names of one model: equal paths, or equal last path components ignoring case
    ("HuggingFaceTB/SmolLM2-135M-Instruct" ~ "~/.cache/codeeval/models/smollm2-135m-instruct")."""
    return a == b or Path(a.rstrip("/")).name.lower() == Path(b.rstrip("/")).name.lower()


def _check_safetensors(file: Path) -> None:
    """A truncated or damaged safetensors file is FAILED_PRECONDITION naming it (reads its header only:
    the file must be 8 + header + the tensors' bytes the header describes, no more, no less)."""
    if not file.is_file():
        return
    size = file.stat().st_size
    try:
        with file.open("rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if size < 8 or not 0 < n <= size - 8:
                raise ValueError(f"header of {n} bytes in a file of {size}")
            header = json.loads(fh.read(n))
        end = max((int(t["data_offsets"][1]) for k, t in header.items() if k != "__metadata__"), default=0)
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise FailedPrecondition(f"{file} is not a readable safetensors file ({exc}); truncated or damaged",
                                 field="path") from None
    if 8 + n + end != size:
        raise FailedPrecondition(f"{file} has {size} bytes where its header describes {8 + n + end}; truncated or "
                                 "damaged", field="path")


def inspect_adapter(path: Path, base: BaseModelInfo) -> dict[str, Any]:
    """Validate the folder against ``base`` and return its description (no weights are loaded)."""
    if not path.is_dir():
        raise NotFound(f"adapter folder {path} does not exist", field="path")
    cfg_file = path / "adapter_config.json"
    try:
        cfg = json.loads(cfg_file.read_text())
    except (OSError, ValueError) as exc:
        raise FailedPrecondition(f"{cfg_file} is missing or not readable JSON ({type(exc).__name__})",
                                 field="path") from None
    if not isinstance(cfg, dict) or str(cfg.get("peft_type", "")).upper() != "LORA":
        raise FailedPrecondition(f"{cfg_file}: peft_type must be LORA", field="path")
    if not any((path / w).is_file() for w in WEIGHT_FILES):
        raise FailedPrecondition(f"{path} has no {' or '.join(WEIGHT_FILES)}", field="path")
    _check_safetensors(path / WEIGHT_FILES[0])
    rank = cfg.get("r")
    if not isinstance(rank, int) or rank < 1:
        raise FailedPrecondition(f"{cfg_file}: r must be a positive integer", field="path")
    if rank > base.max_lora_rank:
        raise FailedPrecondition(f"adapter rank {rank} exceeds max_lora_rank {base.max_lora_rank}", field="path")
    targets = cfg.get("target_modules") or []
    leaf_names = {m.rsplit(".", 1)[-1] for m in base.linear_modules}
    # No linear_modules: a remote server's model, whose modules are unknown here; the server checks.
    if isinstance(targets, str):
        if base.linear_modules and not any(re.fullmatch(targets, m) for m in base.linear_modules):
            raise FailedPrecondition(f"target_modules pattern {targets!r} matches no module of {base.model}",
                                     field="path")
        targets = [targets]
    elif base.linear_modules:
        missing = sorted(t for t in targets if t not in leaf_names and t not in base.linear_modules)
        if missing or not targets:
            raise FailedPrecondition(f"target_modules {missing or targets} do not exist in {base.model} "
                                     f"(it has {', '.join(sorted(leaf_names))})", field="path")
    meta: dict[str, Any] = {}
    if (path / METADATA_FILE).exists():
        try:
            meta = json.loads((path / METADATA_FILE).read_text())
        except (OSError, ValueError):
            raise FailedPrecondition(f"{path / METADATA_FILE} is not readable JSON", field="path") from None
    trained_on = str(cfg.get("base_model_name_or_path") or "")
    trained_sha = str(meta.get("base_model_sha256") or "")
    if trained_sha and base.model_sha256:
        if trained_sha != base.model_sha256:
            raise FailedPrecondition(f"adapter was trained on base weights sha256 {trained_sha[:12]}, this "
                                     f"generator serves {base.model_sha256[:12]} ({base.model})", field="path")
    elif trained_on and not (_same_model(trained_on, base.model) or _same_model(trained_on, base.model_path)):
        raise FailedPrecondition(f"adapter was trained on {trained_on!r}, this generator serves {base.model!r}",
                                 field="path")
    return {"rank": rank, "alpha": float(cfg.get("lora_alpha") or rank), "target_modules": tuple(targets),
            "base_model": trained_on or str(meta.get("base_model", "")),
            "template": str(meta.get("template") or UNKNOWN_TEMPLATE),
            "template_sha256": str(meta.get("template_sha256", "")),
            "template_rendered_sha256": str(meta.get("template_rendered_sha256", ""))}


def remote_adapter_info() -> dict[str, Any]:
    """An adapter only the remote server can read (openai engine): nothing is known here."""
    return {"rank": 0, "alpha": 0.0, "target_modules": (), "base_model": "", "template": UNKNOWN_TEMPLATE,
            "template_sha256": "", "template_rendered_sha256": ""}


class AdapterRegistry:
    """Named adapters of one engine. Load/unload of one name are serialised by a per-name lock;
    unload waits for that adapter's in-flight generations to finish (new ones get NOT_FOUND)."""

    def __init__(self, engine: Engine, base: BaseModelInfo, runtime_loading: bool = True) -> None:
        self.engine = engine
        self.base = base
        self.runtime_loading = runtime_loading
        self._adapters: dict[str, AdapterRecord] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._in_flight: dict[str, int] = {}
        self._draining: set[str] = set()
        self._idle = asyncio.Condition()

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    @staticmethod
    def check_name(name: str) -> None:
        if not NAME_RE.match(name):
            raise InvalidArgument(f"adapter name {name!r} must match {NAME_RE.pattern}", field="name")

    def list(self) -> list[AdapterRecord]:
        return sorted(self._adapters.values(), key=lambda r: r.name)

    def get(self, name: str, field: str = "adapter") -> AdapterRecord:
        """The loaded adapter ``name``; NOT_FOUND naming ``field`` (the request's field that named it)."""
        rec = self._adapters.get(name)
        if rec is None or name in self._draining:
            raise NotFound(f"adapter {name!r} is not loaded (loaded: {', '.join(sorted(self._adapters)) or 'none'})",
                           field=field)
        return rec

    async def load(self, name: str, path: str, replace: bool = False, *, startup: bool = False) -> AdapterRecord:
        self.check_name(name)
        if not (self.runtime_loading or startup):
            raise FailedPrecondition("runtime adapter loading is disabled (generator.runtime_adapter_loading)",
                                     field="name")
        async with self._lock(name):
            folder = Path(await self.engine.resolve_adapter(path))
            if self.engine.adapters_on_server and not folder.is_dir():
                info = remote_adapter_info()
            else:
                info = await asyncio.to_thread(inspect_adapter, folder, self.base)
            if name in self._adapters and not replace:
                raise AlreadyExists(f"adapter {name!r} is already loaded from {self._adapters[name].path}; "
                                    "set replace to swap it", field="name")
            if name not in self._adapters and len(self._adapters) >= self.base.max_adapters:
                raise ResourceExhausted(f"{len(self._adapters)} adapters loaded, the limit is max_cpu_loras "
                                        f"{self.base.max_adapters}; unload one first", field="name")
            local = folder.is_dir()
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if local else 0
            sha = await asyncio.to_thread(folder_sha256, folder) if local else ""
            if name in self._adapters:
                await self._drain_and_remove(name)
            started = time.perf_counter()
            where = str(folder.resolve()) if local else path
            await self.engine.add_adapter(name, where)
            rec = AdapterRecord(name=name, path=where, size_bytes=size, sha256=sha,
                                load_time_ms=int((time.perf_counter() - started) * 1000), **info)
            self._adapters[name] = rec
            return rec

    async def unload(self, name: str) -> None:
        self.check_name(name)
        if not self.runtime_loading:
            raise FailedPrecondition("runtime adapter loading is disabled (generator.runtime_adapter_loading)",
                                     field="name")
        async with self._lock(name):
            self.get(name, field="name")
            await self._drain_and_remove(name)

    async def _drain_and_remove(self, name: str) -> None:
        self._draining.add(name)
        try:
            async with self._idle:
                await self._idle.wait_for(lambda: self._in_flight.get(name, 0) == 0)
            await self.engine.remove_adapter(name)
            self._adapters.pop(name, None)
        finally:
            self._draining.discard(name)

    @asynccontextmanager
    async def use(self, name: str) -> AsyncIterator[AdapterRecord]:
        """Hold ``name`` for one generation; NOT_FOUND if it is not loaded or being unloaded."""
        rec = self.get(name)
        self._in_flight[name] = self._in_flight.get(name, 0) + 1
        try:
            yield rec
        finally:
            self._in_flight[name] -= 1
            async with self._idle:
                self._idle.notify_all()
