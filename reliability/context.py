"""What every reliability area gets: the profile, a scratch folder of its own, and a logger.

Every request loop an area runs must be bounded in count (``ctx.count(n)``) and in time
(``ctx.deadline()``), and send traffic only to loopback addresses (``ctx.check_loopback``).
"""

from __future__ import annotations

import ipaddress
import os
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reliability.report import Profile


@dataclass
class Context:
    """``services``: the services the run is limited to (``--services``); empty means all four."""

    profile: Profile
    workdir: Path
    services: frozenset[str] = frozenset()

    def wants(self, service: str) -> bool:
        """Whether ``service``'s figures are to be run (``services`` empty, or naming it)."""
        return not self.services or service in self.services

    def count(self, full: int, minimum: int = 1) -> int:
        """``full`` scaled by the profile (at least ``minimum``)."""
        return max(minimum, int(full * self.profile.scale))

    def deadline(self, seconds: float | None = None) -> float:
        """A ``time.monotonic()`` deadline: ``seconds`` (default the profile's per-section bound)."""
        return time.monotonic() + (self.profile.seconds if seconds is None else min(seconds, self.profile.seconds))

    def log(self, message: str) -> None:
        """``message`` on stderr with the wall-clock time (progress of a run that takes up to an hour)."""
        print(f"[reliability {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    @staticmethod
    def check_loopback(address: str) -> str:
        """``address`` (host:port, or an ``ipv4:`` list) when every host is a loopback address;
        ValueError otherwise."""
        hosts = address.removeprefix("ipv4:").split(",")
        for hostport in hosts:
            host = hostport.rsplit(":", 1)[0].strip("[]")
            if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
                raise ValueError(f"address: {address!r} is not a loopback address")
        return address


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in this process's environment (which LocalService passes on to the services it
    starts) for the block, then put back what was there, unset variables unset again."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
