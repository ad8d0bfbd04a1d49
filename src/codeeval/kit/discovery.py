"""Service discovery through package entry points: the kit names no service.

Each service distribution declares, in its ``pyproject.toml``::

    [project.entry-points."codeeval.services"]
    sandbox = "codeeval.sandbox.server"

The entry point names the service's bootstrap module, which exposes ``SETTINGS`` (its settings
class, with ``load``) and ``create(settings) -> Service``. Installing a service (``pip install -e
services/NAME``) is what makes ``codeeval serve NAME``, ``codeeval up`` and the local-service
fallback find it. Cost: one scan of the installed distributions' metadata per call (milliseconds);
loading imports the bootstrap module and whatever it imports.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from codeeval.kit.names import did_you_mean

GROUP = "codeeval.services"


class UnknownServiceError(RuntimeError):
    """No installed distribution declares a ``codeeval.services`` entry point of this name."""


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def service_names() -> tuple[str, ...]:
    """The names of the installed services, sorted."""
    return tuple(sorted(_entry_points()))


def check_service_name(name: str) -> None:
    """Raise :class:`UnknownServiceError` naming ``name`` and the closest installed service."""
    known = _entry_points()
    if name not in known:
        hint = did_you_mean(name, known) if known else "; no service is installed (pip install -e services/NAME)"
        raise UnknownServiceError(f"unknown service {name!r}{hint}")


def load_service(name: str) -> Any:
    """The bootstrap module of installed service ``name`` (typed by :class:`codeeval.kit.server.ServiceModule`,
    which this module cannot import: the server imports it).

    Raises :class:`UnknownServiceError` (with did-you-mean) when no installed service has that name.
    """
    check_service_name(name)
    return _entry_points()[name].load()
