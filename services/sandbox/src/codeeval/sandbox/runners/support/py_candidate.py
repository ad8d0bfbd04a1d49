"""Runs INSIDE the candidate's sandbox (Debian's python3 -I): imports the candidate, then answers the
judge's calls. Nothing it says is trusted: the judge decides every verdict from decoded values.

usage: py_candidate.py CHANNEL PROGRAM
  CHANNEL: the fd of a connected socket to the judge, or ``unix:PATH`` (a socket to connect to,
  for backends that cannot pass an fd). Nothing is written to stderr before the channel works,
  so a channel that cannot be opened is a sandbox failure, not the candidate's.

The service runs it (and py_codec) as .pyc files compiled once per service start, under
``python3 -I -S``, and it imports as little as it can: every run pays for its start-up. With -S it
puts the site directories (``site.getsitepackages()``, those that exist) on ``sys.path`` and
defines ``exit``, ``quit``, ``help``, ``copyright`` as ``site`` would, but runs no ``.pth`` file
and no ``sitecustomize`` (4-8 ms of CPU a run where a ``.pth`` imports a package at start-up).

1. Compiles and imports PROGRAM as the module ``__main__`` (the candidate's prints go to its own
   stdout/stderr, never to the channel), then sends a hello frame: ``{"functions": [names]}``
   (the module's own top-level functions) or ``{"error": "syntax"|"exception", "type", "message"}``.
2. Serves ``{"op": "call", "seq", "name", "args", "kwargs", "want_args"}`` with
   ``{"seq", "value"}`` (plus ``"args"`` after the call when asked: mutated arguments come back),
   ``{"seq", "raised": {"type", "message"}}`` or ``{"seq", "unencodable": detail}``.
3. Exits 0 on ``{"op": "exit"}`` or when the channel ends.
"""

import os
import sys
import types

if sys.flags.no_site:  # started with -S (python.py): what site.main() gives, less .pth files and sitecustomize
    import site

    sys.path += [p for p in site.getsitepackages() if p not in sys.path and os.path.isdir(p)]
    site.setquit()
    site.setcopyright()
    site.sethelper()
    del site
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import py_codec  # noqa: E402

del sys.path[0]


def _recv_exact(fd: int, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def _recv(fd: int) -> dict:
    return py_codec.unpack(_recv_exact(fd, py_codec.body_size(_recv_exact(fd, 4))))


def _send(fd: int, message: dict) -> None:
    data = memoryview(py_codec.dumps(message))
    while data:
        data = data[os.write(fd, data):]


def _print_exc(limit: int | None = None) -> None:
    import traceback

    traceback.print_exc(limit=limit)


def _load(path: str) -> tuple[types.ModuleType | None, dict]:
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    try:
        code = compile(source, path, "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        _print_exc(limit=0)
        return None, {"error": "syntax", "type": type(exc).__name__, "message": str(exc)[:500]}
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__builtins__ = __builtins__  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    sys.argv = [path]
    try:
        exec(code, module.__dict__)
    except BaseException as exc:  # noqa: BLE001 - reported to the judge, which decides
        _print_exc()
        return None, {"error": "exception", "type": type(exc).__name__, "message": _text(exc)}
    names = [k for k, v in list(module.__dict__.items())
             if type(v) is types.FunctionType and v.__module__ == "__main__" and type(k) is str]
    return module, {"functions": names}


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:500]
    except BaseException:  # noqa: BLE001 - a candidate exception whose __str__ fails
        return "(unprintable)"


def _call(module: types.ModuleType, request: dict) -> dict:
    seq = request.get("seq")
    try:
        fn = module.__dict__[request["name"]]
        args = py_codec.decode(request["args"])
        kwargs = py_codec.decode(request["kwargs"])
    except (KeyError, py_codec.CodecError) as exc:
        return {"seq": seq, "raised": {"type": "NameError", "message": f"cannot call: {exc}"}}
    try:
        value = fn(*args, **kwargs)  # type: ignore[operator]
    except BaseException as exc:  # noqa: BLE001 - the candidate's exception, reported by name
        return {"seq": seq, "raised": {"type": type(exc).__name__, "message": _text(exc)}}
    try:
        reply = {"seq": seq, "value": py_codec.encode(value)}
        if request.get("want_args"):
            reply["args"] = py_codec.encode(args)
            reply["kwargs"] = py_codec.encode(kwargs)
    except py_codec.CodecError as exc:
        return {"seq": seq, "unencodable": str(exc)}
    except BaseException as exc:  # noqa: BLE001 - a value whose iteration raised
        return {"seq": seq, "unencodable": f"encoding the result raised {type(exc).__name__}"}
    return reply


START = b"\x1eCODEEVAL-START\n"


def _channel(spec: str) -> int:
    if not spec.startswith("unix:"):
        return int(spec)
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(spec[5:])
    return sock.detach()


def main() -> None:
    serve(_channel(sys.argv[1]), sys.argv[2])


def serve(fd: int, program: str) -> None:
    """Import ``program`` and answer the judge on ``fd`` until the channel ends; exits the process
    (py_zygote calls it in a run's forked child). Never returns."""
    os.write(2, START)  # the sandbox works (tells a sandbox failure from a candidate that died early)
    module, hello = _load(program)
    _send(fd, hello)
    while module is not None:
        try:
            request = _recv(fd)
        except (EOFError, OSError, py_codec.CodecError):
            break
        if request.get("op") != "call":
            break
        reply = _call(module, request)
        try:
            _send(fd, reply)
        except py_codec.CodecError as exc:
            _send(fd, {"seq": reply.get("seq"), "unencodable": str(exc)})
    for stream in (sys.stdout, sys.stderr):
        try:  # noqa: SIM105 - contextlib would be one more import in every run
            stream.flush()
        except BaseException:  # noqa: BLE001,S110 - the candidate may have closed or replaced it
            pass
    os._exit(0)


if __name__ == "__main__":
    main()
