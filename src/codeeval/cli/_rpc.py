"""One way for CLI commands to call a service: its typed client's channel (address from the
environment or a local service, token, TLS: :mod:`codeeval.clients`), ``fn(channel)``, and an RPC
error turned into one red line naming the service. A local service that cannot start raises
:class:`~codeeval.kit.startup.ServiceStartError`, which ``codeeval``'s entry point prints with the
service's log path (exit 2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from rich.console import Console
from rich.markup import escape

from codeeval.clients import ServiceError, client_for


def call_service(service: str, fn: Callable[[grpc.Channel], Any], console: Console) -> int:
    """Exit code of ``fn(channel)`` (None means 0), or 1 after printing what went wrong."""
    with client_for(service) as client:
        try:
            return int(fn(client.channel()) or 0)
        except grpc.RpcError as exc:
            message = str(client.error(exc))
        except ServiceError as exc:
            message = str(exc)
    console.print(f"[red]error:[/] {escape(message)}")
    return 1
