"""Run the reliability areas against real services on loopback and write the figures.

``python -m reliability [--profile short|full] [--only fuzz,load,faults] [--services S,..] [--out RELIABILITY.md]``.
``--services`` limits the bad-input and load areas to those services (the fault area's figures span
several services and always run whole). Progress goes to stderr, each line with its time; the
figures are written after each area (marked unfinished until the last), so a run stopped later
keeps what it measured.

Exit status: 0 when every figure holds and nothing was lost, 1 otherwise, 2 on bad arguments.
An area that crashes becomes a figure that does not hold (with the error), never a lost report.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
import traceback
from pathlib import Path

from reliability.context import Context
from reliability.report import PROFILES, Section, provenance, write

AREAS = {"fuzz": "bad-input", "load": "load", "faults": "fault"}
SERVICES = ("trainer", "sandbox", "analyzer", "generator")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--only", default=",".join(AREAS), help="comma-separated areas: " + ", ".join(AREAS))
    parser.add_argument("--services", default="", help="comma-separated services for the fuzz and load areas "
                        "(default all): " + ", ".join(SERVICES))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "RELIABILITY.md")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    areas = [a.strip() for a in args.only.split(",") if a.strip()]
    unknown = [a for a in areas if a not in AREAS]
    if unknown:
        parser.error(f"--only: unknown area(s) {', '.join(unknown)}; known: {', '.join(AREAS)}")
    services = frozenset(s.strip() for s in args.services.split(",") if s.strip())
    if services - set(SERVICES):
        parser.error(f"--services: unknown service(s) {', '.join(sorted(services - set(SERVICES)))}; "
                     f"known: {', '.join(SERVICES)}")
    profile = PROFILES[args.profile]
    sections: list[Section] = []
    area_s: dict[str, int] = {}
    t_all = time.monotonic()
    base = provenance(profile) | {"areas": ",".join(areas), "services": ",".join(sorted(services)) or "all"}

    def report() -> None:
        """Write the figures so far: after each area, so a run stopped later keeps what it measured."""
        per_area = ", ".join(f"{a} {n}" for a, n in area_s.items())
        prov = base | {"wall_s": round(time.monotonic() - t_all), "wall_s per area (start-ups included)": per_area}
        if len(area_s) < len(areas):
            prov["unfinished"] = f"{len(area_s)} of {len(areas)} areas done; this file is rewritten after each"
        write(sections, prov, args.out, args.json)

    with tempfile.TemporaryDirectory(prefix="codeeval-reliability-") as tmp:
        for area in areas:
            ctx = Context(profile=profile, workdir=Path(tmp) / area, services=services)
            ctx.workdir.mkdir()
            t0 = time.monotonic()
            ctx.log(f"{area}: start ({profile.name})")
            try:
                module = importlib.import_module(f"reliability.{area}")
                got = list(module.run(ctx))
            except Exception as exc:  # noqa: BLE001 - a crashed area is a figure that does not hold
                got = [Section(title=f"{area} did not finish", service="all", area=AREAS[area],
                               problems=[f"{type(exc).__name__}: {exc}"],
                               notes=[traceback.format_exc(limit=5).strip().replace("\n", " / ")])]
            area_s[area] = round(time.monotonic() - t0)
            sections += got
            held = sum(1 for s in got if s.ok)
            ctx.log(f"{area}: {held} of {len(got)} figures hold in {area_s[area]}s"
                    + "".join(f"; NOT HOLDING: {s.service}: {s.title}" for s in got if not s.ok))
            report()
    bad = [s for s in sections if not s.ok]
    print(f"reliability: {len(sections) - len(bad)}/{len(sections)} figures hold, "
          f"lost {sum(s.lost for s in sections)}; wrote {args.out}")
    for s in bad:
        print(f"  NOT HOLDING: {s.service}: {s.title}: {'; '.join(s.problems) or f'lost {s.lost}'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
