"""One way for CLI commands to call a service: connect (address from the environment or a local
service), run ``fn(channel)``, and turn an RPC error into one red line naming the service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from rich.console import Console
from rich.markup import escape

from codeeval.kit.client import connect, describe_rpc_error


def call_service(service: str, fn: Callable[[grpc.Channel], Any], console: Console) -> int:
    """Exit code of ``fn(channel)`` (None means 0), or 1 after printing the RPC error."""
    try:
        with connect(service) as channel:
            return int(fn(channel) or 0)
    except grpc.RpcError as exc:
        console.print(f"[red]error:[/] {escape(describe_rpc_error(service, exc))}")
        return 1
