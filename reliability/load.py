"""The load area (`python -m reliability --only load`): each service held under concurrent load on
loopback, one figure per service (:mod:`reliability.load_sandbox`, :mod:`reliability.load_analyzer`,
:mod:`reliability.load_generator`).

The services are started together (their start-ups overlap), then loaded one after another so that
each figure measures one service alone. A service that cannot start, or a load that crashes, is a
figure that does not hold, with the reason; the others still run. Time: the start-ups (tens of
seconds each at this machine's load, plus training the generator's marker adapters once per
machine) and each figure's bound (:data:`SECONDS`).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reliability import load_analyzer, load_generator, load_sandbox
from reliability.context import Context
from reliability.report import Section

#: Each figure's time bound per profile, seconds (never above the profile's per-section bound):
#: short is CI's (about 100 s for the area with the start-ups on an idle machine; the analyzer's
#: warm-up to its RSS plateau comes on top, at most its own bound again), full about 30 minutes in
#: all. The full sandbox bound fits its 10,000 runs at about half the idle machine's throughput (18.4
#: programs/s idle: 9 minutes; about 5,000 runs were seen in 600 s at load 20).
SECONDS = {"short": {"sandbox": 25.0, "analyzer": 25.0, "generator": 25.0},
           "full": {"sandbox": 1200.0, "analyzer": 240.0, "generator": 240.0}}

_AREAS: dict[str, tuple[str, Any]] = {
    "sandbox": ("ExecuteBatch at saturation", load_sandbox),
    "analyzer": ("concurrent Analyze of large and malformed files", load_analyzer),
    "generator": ("concurrent streams on the base model and two adapters", load_generator),
}


def _failed(service: str, title: str, exc: BaseException) -> Section:
    return Section(title=title, service=service, area="load", problems=[f"{type(exc).__name__}: {exc}"],
                   notes=[traceback.format_exc(limit=4).strip().replace("\n", " / ")])


def run(ctx: Context, services: tuple[str, ...] | None = None) -> list[Section]:
    """Start ``services`` (default: those of the three ``ctx.wants``) at once, then load each in turn;
    one Section per service."""
    if services is None:
        services = tuple(s for s in _AREAS if ctx.wants(s))
    if not services:
        return []
    started: dict[str, Any] = {}
    failed: dict[str, BaseException] = {}

    def start(name: str) -> None:
        try:
            started[name] = _AREAS[name][1].start(ctx)
        except Exception as exc:  # noqa: BLE001 - a service that cannot start is a figure that does not hold
            failed[name] = exc

    with ThreadPoolExecutor(len(services)) as pool:
        list(pool.map(start, services))
    sections = []
    try:
        for name in services:
            title, module = _AREAS[name]
            if name in failed:
                sections.append(_failed(name, title, failed[name]))
                continue
            seconds = min(SECONDS.get(ctx.profile.name, {}).get(name, ctx.profile.seconds), ctx.profile.seconds)
            ctx.log(f"load: {name} ({seconds:.0f}s bound)")
            try:
                sections.append(module.run(ctx, started[name], seconds))
            except Exception as exc:  # noqa: BLE001 - a crashed load is a figure that does not hold
                sections.append(_failed(name, title, exc))
            finally:
                _stop(started.pop(name).stop, ctx.log)
    finally:
        for svc in started.values():
            _stop(svc.stop, ctx.log)
    return sections


def _stop(stop: Callable[[], None], log: Callable[[str], None]) -> None:
    try:
        stop()
    except Exception as exc:  # noqa: BLE001 - stopping must not hide the figures
        log(f"load: stopping a service failed: {exc}")
