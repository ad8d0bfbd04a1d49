"""Every package of the ``codeeval`` namespace is placed in the import contracts ``make lint`` checks
(``[tool.importlinter]`` in pyproject.toml), so that a new package cannot escape them unnoticed:
a service is in the independence contract, anything else in the "import no service" contract."""

from __future__ import annotations

import tomllib
from pathlib import Path

import codeeval

ROOT = Path(__file__).resolve().parents[2]


def _contract(contracts: list[dict[str, object]], type_name: str, key: str) -> set[str]:
    found = [c for c in contracts if c["type"] == type_name and key in c]
    assert found, f"no {type_name} contract with {key}"
    return {m for c in found for m in c[key]}  # type: ignore[attr-defined]


def test_every_codeeval_package_is_under_a_contract() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    services = _contract(contracts, "independence", "modules")
    no_service = _contract(contracts, "forbidden", "source_modules")
    packages = {f"codeeval.{p.name}" for base in codeeval.__path__ for p in Path(base).iterdir()
                if (p / "__init__.py").is_file()}
    unplaced = sorted(packages - services - no_service - {"codeeval.api"})
    assert not unplaced, f"packages no import contract covers (add them to [tool.importlinter]): {unplaced}"
    assert services >= {f"codeeval.{n}" for n in ("sandbox", "analyzer", "generator", "trainer")}
