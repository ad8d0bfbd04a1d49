"""scripts/install-system-deps.sh: one script, two lists. MAIN is what `make main` runs on (`make setup`
installs it); TEST is what only the tests and the image builds use (`make test` / `make test-slow` add
it), so a newcomer's first command does not wait for Chromium, Docker or gVisor."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-system-deps.sh"


def _packages(name: str) -> dict[str, str]:
    """package -> its reason comment, from the script's ``NAME=( ... )`` array."""
    block = re.search(rf"^{name}=\(\n(.*?)^\)", SCRIPT.read_text(), re.S | re.M)
    assert block, f"{name} not found in {SCRIPT.name}"
    out: dict[str, str] = {}
    for line in block.group(1).splitlines():
        names, _, why = line.partition("#")
        for pkg in names.split():
            out[pkg] = why.strip()
    return out


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)


def test_two_disjoint_lists_each_package_with_its_reason():
    main, test = _packages("MAIN_PACKAGES"), _packages("TEST_PACKAGES")
    assert not set(main) & set(test)
    assert all(main.values()) and all(test.values()), "every package says who needs it"
    # what the issue found missing on a clean Debian 12 is on the main side
    assert {"python3-venv", "libnuma1", "openjdk-17-source", "bubblewrap"} <= set(main)
    # the test/image-build side never slows the main job's install
    assert {"chromium", "docker.io", "docker-compose", "runsc", "debootstrap"} <= set(test)


def test_make_setup_installs_main_and_the_test_targets_add_test():
    make = subprocess.run(["make", "-n", "-C", str(ROOT), "setup", "test", "test-slow"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert make.returncode == 0, make.stderr
    calls = [line for line in make.stdout.splitlines() if "install-system-deps.sh" in line]
    assert calls[0].split()[-1].endswith("install-system-deps.sh"), "setup installs the main list only"
    assert any(line.endswith("--test") for line in calls[1:]), "make test installs the test list too"


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="not a Debian-like system (no dpkg-query)")
def test_dry_run_names_the_list_and_changes_nothing():
    for args, which in (((), "main"), (("--test",), "main + test")):
        result = _run(*args, "--dry-run")
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"system packages ({which}) missing: ")
        missing = result.stdout.split("missing: ", 1)[1].split()
        allowed = set(_packages("MAIN_PACKAGES")) | (set(_packages("TEST_PACKAGES")) if args else set()) | {"none"}
        assert set(missing) <= allowed


def test_help_and_unknown_option():
    assert "--test" in _run("--help").stdout
    bad = _run("--frobnicate")
    assert bad.returncode == 2 and "unknown argument --frobnicate" in bad.stderr
