"""``codeeval serve SERVICE`` and ``codeeval up``.

``up`` shows, while it waits for a service, why it is not ready yet; a service that fails its
start-up ends ``up`` at once with the reason and the service's log path (exit 2)."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from codeeval.kit.client import LocalService, address_env
from codeeval.kit.discovery import UnknownServiceError, check_service_name, service_names
from codeeval.kit.startup import ServiceStartError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("serve", help="run one service in the foreground")
    p.add_argument("service", help="an installed service (codeeval.services entry point), e.g. sandbox")
    p.add_argument("--config", help="YAML settings file (or $CODEEVAL_CONFIG)")
    p.add_argument("--host", help="interface to listen on")
    p.add_argument("--port", type=int, help="gRPC port (0 picks a free one)")
    p.add_argument("--metrics-port", type=int, help="Prometheus /metrics port")
    p.add_argument("--ready-file", type=Path, help="write the bound port here once listening")
    p.set_defaults(func=_serve)

    p = sub.add_parser("up", help="start services on loopback, wait for health, print their addresses")
    p.add_argument("services", nargs="*", metavar="SERVICE", help="installed services to start; default: all of them")
    p.add_argument("--config", help="YAML settings file shared by all services")
    p.add_argument("--base-port", type=int, default=0, help="first port (then +1 per service); 0 picks free ports")
    p.add_argument("--log-dir", type=Path, default=Path(".codeeval/logs"), help="one log file per service")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for each service's health")
    p.set_defaults(func=_up)


def _serve(args: argparse.Namespace) -> int:
    from codeeval.kit.init import become_init_if_pid_1

    become_init_if_pid_1()  # a container's pid 1 reaps what is orphaned in it (before any thread starts)
    from codeeval.kit.server import run

    try:
        check_service_name(args.service)
    except UnknownServiceError as exc:
        Console(stderr=True).print(f"[red]error:[/] {exc}")
        return 2
    run(args.service, args.config, args.ready_file, host=args.host, port=args.port, metrics_port=args.metrics_port)
    return 0


def _describe_to(progress: Progress, task: TaskID) -> Callable[[str], None]:
    """A waiting-line sink that shows the line as ``task``'s description."""
    def show(line: str) -> None:
        progress.update(task, description=escape(line))
    return show


def _up(args: argparse.Namespace) -> int:
    console = Console(stderr=True, soft_wrap=True)  # an error line stays one line (a log path in it)
    names = args.services or list(service_names())
    try:
        for name in names:
            check_service_name(name)
    except UnknownServiceError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    args.log_dir.mkdir(parents=True, exist_ok=True)
    started: list[LocalService] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            for i, name in enumerate(names):
                task = progress.add_task(f"starting {name}", total=None)
                port = args.base_port + i if args.base_port else 0
                svc = LocalService(name, port=port, config=args.config, log_file=args.log_dir / f"{name}.log")
                started.append(svc)
                svc.start(timeout=args.timeout, on_wait=_describe_to(progress, task))
                progress.update(task, description=f"{name} SERVING at {svc.address}", total=1, completed=1)
        for svc in started:
            print(f"export {address_env(svc.name)}={svc.address}")
        console.print(f"[green]all services up[/]; logs in {args.log_dir}; Ctrl-C stops them")
        stop.wait()
    except KeyboardInterrupt:
        pass
    except ServiceStartError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        return 2
    except (RuntimeError, TimeoutError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        return 1
    finally:
        for svc in reversed(started):
            svc.stop()
        if started:
            console.print("stopped " + ", ".join(s.name for s in started))
    return 0
