"""The value encoding between a Python judge and its candidate process (standard library only).

A value travels as JSON with a type tag on every node, so the judge rebuilds plain builtins of
exactly the type that was sent and never runs code on the candidate's behalf (no pickle, no
``__reduce__``, no ``__eq__`` of a candidate class). Tags:

    ["n"] None   ["b", bool]   ["i", hex int]   ["f", float.hex()]   ["c", re hex, im hex]
    ["s", str]   ["y", hex bytes]   ["a", hex bytearray]   ["l", [..]] list   ["t", [..]] tuple
    ["d", [[k, v], ..]] dict   ["e", [..]] set   ["z", [..]] frozenset

Ints go as hex (no digit limit applies to base 16), floats as ``float.hex`` (exact, nan and
infinities included). ``decode`` is strict: an unknown tag, a wrong shape, a depth over
``MAX_DEPTH`` or more than ``MAX_NODES`` nodes raise ``CodecError``; unhashable keys or set
members too. ``encode`` (the candidate side) accepts exact builtins and, converting them through
the builtin type's own methods (never the subclass's overrides), instances of builtin subclasses
(a namedtuple becomes a tuple, a Counter a dict); anything else (generators, files, classes the
candidate defined) raises ``Unencodable`` naming the type and where it sits. Cost: linear in the
size of the value.

Frames on the channel: a 4-byte big-endian length, then the body: UTF-8 JSON from the candidate
(``dumps``, parsed by the judge with ``loads``), ``marshal`` from the judge (``pack``, read by the
candidate with ``unpack``: the judge is trusted by the candidate; marshal never reads the
candidate's bytes). The candidate side imports nothing but ``marshal`` and ``_json`` (its worker
starts in every run): no ``json``, ``re``, ``struct`` or ``typing``.
"""

from __future__ import annotations

import marshal
from _json import encode_basestring_ascii as _quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_DEPTH = 64
MAX_NODES = 1_000_000
MAX_FRAME = 64 << 20


class CodecError(ValueError):
    """A frame or value that breaks the encoding's rules (the sender is at fault)."""


class Unencodable(CodecError):
    """A value of a type the encoding does not carry."""


class _Budget:
    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes = 0

    def take(self, depth: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise CodecError(f"more than {MAX_NODES} values in one message")
        if depth > MAX_DEPTH:
            raise CodecError(f"nested deeper than {MAX_DEPTH} levels")


# -- encoding (either side) ------------------------------------------------------------------------

def encode(value: object) -> object:
    """``value`` as a JSON-ready tagged tree. Raises Unencodable / CodecError."""
    return _enc(value, 0, _Budget(), "value")


def _enc(v: Any, depth: int, budget: _Budget, where: str) -> object:
    budget.take(depth)
    t = type(v)
    if t is type(None):
        return ["n"]
    if t is bool:
        return ["b", v]
    if issubclass(t, int):
        return ["i", hex(int.__index__(v))]
    if issubclass(t, float):
        return ["f", float.hex(v)]
    if issubclass(t, complex):
        return ["c", float.hex(complex.real.__get__(v)), float.hex(complex.imag.__get__(v))]
    if issubclass(t, str):
        return ["s", str.__str__(v)]
    if issubclass(t, bytes):
        return ["y", bytes.hex(v)]
    if issubclass(t, bytearray):
        return ["a", bytearray.hex(v)]
    d = depth + 1
    if issubclass(t, list):
        return ["l", [_enc(x, d, budget, f"{where}[{i}]") for i, x in enumerate(list.__iter__(v))]]
    if issubclass(t, tuple):
        return ["t", [_enc(x, d, budget, f"{where}[{i}]") for i, x in enumerate(tuple.__iter__(v))]]
    if issubclass(t, dict):
        return ["d", [[_enc(k, d, budget, f"{where} key"), _enc(x, d, budget, f"{where}[{k!r:.40}]")]
                      for k, x in dict.items(v)]]
    if issubclass(t, frozenset):
        return ["z", [_enc(x, d, budget, f"{where} member") for x in frozenset.__iter__(v)]]
    if issubclass(t, set):
        return ["e", [_enc(x, d, budget, f"{where} member") for x in set.__iter__(v)]]
    raise Unencodable(f"{where} is a {_type_name(t)}, which cannot be sent to the judge (only None, bool, int, "
                      "float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset)")


def _type_name(t: type) -> str:
    module = type.__dict__["__module__"].__get__(t)
    name = type.__dict__["__qualname__"].__get__(t)
    return name if module == "builtins" else f"{module}.{name}"


# -- decoding (the judge side: strict) --------------------------------------------------------------

def decode(tree: object) -> object:
    """The plain builtin that a tagged tree describes. Raises CodecError on anything else."""
    return _dec(tree, 0, _Budget())


def _items(node: list, depth: int, budget: _Budget) -> list:
    if len(node) != 2 or type(node[1]) is not list:
        raise CodecError(f"tag {node[0]!r} needs a list of items")
    return [_dec(x, depth + 1, budget) for x in node[1]]


def _scalar(node: list, kind: type) -> Any:
    if len(node) != 2 or type(node[1]) is not kind:
        raise CodecError(f"tag {node[0]!r} needs one {kind.__name__}")
    return node[1]


def _dec(node: object, depth: int, budget: _Budget) -> object:
    budget.take(depth)
    if type(node) is not list or not node or type(node[0]) is not str:
        raise CodecError("every value must be a list that starts with a type tag")
    tag = node[0]
    try:
        if tag == "n" and len(node) == 1:
            return None
        if tag == "b":
            return _scalar(node, bool)
        if tag == "i":
            return int(_scalar(node, str), 16)
        if tag == "f":
            return float.fromhex(_scalar(node, str))
        if tag == "c" and len(node) == 3 and type(node[1]) is str and type(node[2]) is str:
            return complex(float.fromhex(node[1]), float.fromhex(node[2]))
        if tag == "s":
            return _scalar(node, str)
        if tag == "y":
            return bytes.fromhex(_scalar(node, str))
        if tag == "a":
            return bytearray.fromhex(_scalar(node, str))
        if tag == "l":
            return _items(node, depth, budget)
        if tag == "t":
            return tuple(_items(node, depth, budget))
        if tag == "e":
            return set(_items(node, depth, budget))
        if tag == "z":
            return frozenset(_items(node, depth, budget))
        if tag == "d":
            if len(node) != 2 or type(node[1]) is not list:
                raise CodecError("tag 'd' needs a list of [key, value] pairs")
            out = {}
            for pair in node[1]:
                if type(pair) is not list or len(pair) != 2:
                    raise CodecError("tag 'd' needs a list of [key, value] pairs")
                out[_dec(pair[0], depth + 1, budget)] = _dec(pair[1], depth + 1, budget)
            return out
    except TypeError as exc:  # an unhashable key or set member
        raise CodecError(f"tag {tag!r}: {exc}") from None
    except ValueError as exc:
        if isinstance(exc, CodecError):
            raise
        raise CodecError(f"tag {tag!r}: {exc}") from None
    raise CodecError(f"unknown type tag {tag!r:.40}")


# -- frames --------------------------------------------------------------------------------------------

def dumps(message: dict) -> bytes:
    """One JSON frame (length + compact JSON of dicts with str keys, lists, str, int, bool, None
    and finite floats). Raises CodecError past MAX_FRAME or on any other type."""
    out: list[str] = []
    _write(message, out, 0)
    body = "".join(out).encode()
    return _frame(body)


def _write(o: Any, out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH + 8:
        raise CodecError("a message is nested too deeply")
    t = type(o)
    if t is str:
        out.append(_quote(o))
    elif t is list:
        out.append("[")
        for i, x in enumerate(o):
            if i:
                out.append(",")
            _write(x, out, depth + 1)
        out.append("]")
    elif t is dict:
        out.append("{")
        for i, (k, x) in enumerate(o.items()):
            if type(k) is not str:
                raise CodecError("frame keys must be str")
            out.append("," + _quote(k) + ":" if i else _quote(k) + ":")
            _write(x, out, depth + 1)
        out.append("}")
    elif o is None:
        out.append("null")
    elif t is bool:
        out.append("true" if o else "false")
    elif t is int:
        out.append(int.__repr__(o))
    elif t is float and o - o == 0:
        out.append(float.__repr__(o))
    else:
        raise CodecError(f"a {t.__name__} cannot be written in a frame")


def pack(message: dict) -> bytes:
    """One marshal frame (the judge's requests to the candidate)."""
    return _frame(marshal.dumps(message))


def unpack(body: bytes) -> dict:
    """A marshal frame from the judge (candidate side only). Raises CodecError if it is not a dict."""
    try:
        message = marshal.loads(body)
    except (EOFError, ValueError, TypeError) as exc:
        raise CodecError(f"a request is not marshal data: {exc}") from None
    if type(message) is not dict:
        raise CodecError("a request must be a dict")
    return message


def _frame(body: bytes) -> bytes:
    if len(body) > MAX_FRAME:
        raise CodecError(f"a message of {len(body)} bytes exceeds the {MAX_FRAME}-byte frame limit")
    return len(body).to_bytes(4, "big") + body


def body_size(header: bytes) -> int:
    """The body length a 4-byte header announces. Raises CodecError past MAX_FRAME."""
    size = int.from_bytes(header, "big")
    if size > MAX_FRAME:
        raise CodecError(f"a frame announces {size} bytes, over the {MAX_FRAME}-byte limit")
    return size


def loads(body: bytes) -> dict:
    """A frame body as a JSON object. Raises CodecError if it is anything else."""
    import json  # the judge's side only

    try:
        message = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise CodecError(f"a frame is not UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise CodecError("a frame is nested too deeply") from None
    if type(message) is not dict:
        raise CodecError("a frame must be a JSON object")
    return message


def _no_constant(name: str) -> object:
    raise CodecError(f"{name} is not allowed in a frame")
