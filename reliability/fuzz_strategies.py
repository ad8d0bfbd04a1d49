"""Bad requests for any RPC, derived from its input message's descriptor (hypothesis strategies).

Each request aims at one field (by descriptor path, ``program.extra_files.path``) with one kind of
bad value (:data:`KINDS`); every other field is left missing or given a typical value, so that the
bad one is what the service meets. Kinds are chosen by the field's type: strings and bytes get
empty, oversized, non-UTF-8 and deeply nested text; numbers get negative and oversized values;
enums an undefined number; repeated fields none, too many and duplicated elements; whole requests
get torn bytes and garbage. Targeted values by field name (paths with ``..``, absolute and symlinked
paths, unknown adapters and configs, deeply nested JSON) come from a :class:`Targets` table.

A non-UTF-8 string cannot be built in proto3 Python: the field gets an ASCII marker that
:func:`payload` replaces in the serialized bytes with as many ``0xff`` bytes (the length prefix
stays right). Cost: a case is built in microseconds, except the oversized ones (a few 100 KiB).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import message_factory, text_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

#: Kinds of bad value; ``typical`` is a well-formed request (the baseline).
KINDS = ("typical", "missing", "empty", "oversized", "negative", "wrong_enum", "non_utf8", "deep",
         "too_many", "duplicate_ids", "torn", "garbage", "targeted")
MARKER = b"QQNOTUTF8QQ"
#: Bytes of an oversized string or bytes field (above every service's per-field maximum, 256 KiB).
BIG_BYTES = 300 * 1024
#: Elements of an oversized repeated field (above every service's per-request maximum but Score's).
BIG_COUNT = 1025
DEEP = 20000
DEEP_TEXTS = ("[" * DEEP + "]" * DEEP, "(" * DEEP + ")" * DEEP, "{" * DEEP + "}" * DEEP, "-" * DEEP + "1")

_INTS = {FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1), FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
         FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1), FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
         FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1), FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
         FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1), FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
         FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1)}
_FLOATS = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)
_TEXT = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES)
_ID_NAMES = ("id", "path", "name")


@dataclass
class Targets:
    """Per field name: ``typical`` values (so that other fields do not hide the one aimed at) and
    ``hostile`` ones (tried as the ``targeted`` kind). A name missing here gets type defaults."""

    typical: dict[str, list[Any]] = field(default_factory=dict)
    hostile: dict[str, list[Any]] = field(default_factory=dict)
    #: Fields always present (one element when repeated) unless aimed at: what a request needs to get
    #: past the first check (a program's language and source).
    required: set[str] = field(default_factory=set)
    #: Fields present one time in four: options that change what the others mean (an input table).
    rare: set[str] = field(default_factory=set)


@dataclass
class Case:
    """One request: the field path aimed at, the kind, the message and its wire bytes."""

    path: str
    kind: str
    message: Message
    payload: bytes

    def text(self, limit: int = 300) -> str:
        """The request in one line, long values shortened (the reproducer in a report)."""
        head = f"{self.kind} {self.path or '(request)'}"
        if self.kind in ("torn", "garbage"):
            return f"{head}: {len(self.payload)} bytes {self.payload[:40]!r}"
        body = text_format.MessageToString(shortened(self.message), as_one_line=True, as_utf8=True)
        body = body.replace(MARKER.decode(), "<0xff x11>")
        return f"{head}: {body[:limit]}" + ("..." if len(body) > limit else "")


def message_class(desc: Descriptor) -> type[Message]:
    return message_factory.GetMessageClass(desc)


def _is_map(f: FieldDescriptor) -> bool:
    return f.type == FieldDescriptor.TYPE_MESSAGE and f.message_type.GetOptions().map_entry


def field_kinds(f: FieldDescriptor, targets: Targets) -> list[str]:
    """The bad kinds that apply to field ``f`` (beside ``missing``)."""
    kinds = ["missing"]
    if f.is_repeated:
        kinds += ["empty", "too_many"]
        if f.type == FieldDescriptor.TYPE_MESSAGE and not _is_map(f) and \
                any(n in f.message_type.fields_by_name for n in _ID_NAMES):
            kinds.append("duplicate_ids")
    if _is_map(f):
        return kinds + (["targeted"] if f.name in targets.hostile else [])
    if f.type in _TEXT:
        kinds += ["empty", "oversized", "non_utf8", "deep"]
    elif f.type in _INTS or f.type in _FLOATS:
        kinds += ["oversized", "negative"]
    elif f.type == FieldDescriptor.TYPE_ENUM:
        kinds += ["wrong_enum"]
    elif f.type == FieldDescriptor.TYPE_MESSAGE:
        kinds += ["empty"]
    if f.name in targets.hostile:
        kinds.append("targeted")
    return list(dict.fromkeys(kinds))


def plan(desc: Descriptor, targets: Targets, depth: int = 4, prefix: str = "") -> list[tuple[str, str]]:
    """Every (field path, kind) a request of ``desc`` is tried with, plus the whole-request kinds
    (``typical``, ``torn``, ``garbage``). Map entries are not descended into (their key and value are
    aimed at through the map's ``targeted`` values)."""
    out = [("", "typical"), ("", "torn"), ("", "garbage")] if not prefix else []
    for f in desc.fields:
        path = f"{prefix}.{f.name}" if prefix else f.name
        out += [(path, k) for k in field_kinds(f, targets)]
        if f.type == FieldDescriptor.TYPE_MESSAGE and not _is_map(f) and depth > 1:
            out += plan(f.message_type, targets, depth - 1, path)
    return out


Draw = Callable[[st.SearchStrategy[Any]], Any]


def _typical_scalar(draw: Draw, f: FieldDescriptor, targets: Targets) -> Any:
    if f.name in targets.typical:
        return draw(st.sampled_from(targets.typical[f.name]))
    if f.type == FieldDescriptor.TYPE_STRING:
        return draw(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8))
    if f.type == FieldDescriptor.TYPE_BYTES:
        return draw(st.binary(max_size=8))
    if f.type == FieldDescriptor.TYPE_BOOL:
        return draw(st.booleans())
    if f.type == FieldDescriptor.TYPE_ENUM:
        return draw(st.sampled_from([v.number for v in f.enum_type.values]))
    if f.type in _FLOATS:
        return draw(st.floats(0, 2))
    return draw(st.integers(0, 3))


def _bad_scalar(draw: Draw, f: FieldDescriptor, kind: str, targets: Targets) -> Any:
    if kind == "targeted":
        return draw(st.sampled_from(targets.hostile[f.name]))
    if kind == "empty":
        return "" if f.type == FieldDescriptor.TYPE_STRING else b""
    if kind == "oversized":
        if f.type in _TEXT:
            big = draw(st.sampled_from(["x", "é", "\n"])) * (BIG_BYTES // 2 if draw(st.booleans()) else BIG_BYTES)
            return big if f.type == FieldDescriptor.TYPE_STRING else big.encode()
        if f.type in _FLOATS:
            return draw(st.sampled_from([float("inf"), float("nan"), 1e308 if f.type != FieldDescriptor.TYPE_FLOAT
                                         else 3.4e38]))
        return _INTS[f.type][1]
    if kind == "negative":
        if f.type in _FLOATS:
            return draw(st.sampled_from([-1.0, -float("inf"), -1e-9]))
        low = _INTS[f.type][0]
        # an unsigned field has no negative: -1 on the wire is read as its maximum
        return draw(st.sampled_from([-1, low])) if low < 0 else _INTS[f.type][1]
    if kind == "wrong_enum":
        defined = {v.number for v in f.enum_type.values}
        return draw(st.sampled_from([n for n in (-1, 99, 2**31 - 1) if n not in defined]))
    if kind == "non_utf8":
        return MARKER.decode() if f.type == FieldDescriptor.TYPE_STRING else b"\xff\xfe" + MARKER
    if kind == "deep":
        text = draw(st.sampled_from(DEEP_TEXTS))
        return text if f.type == FieldDescriptor.TYPE_STRING else text.encode()
    raise ValueError(f"kind: {kind!r} does not apply to a scalar")


def _set(msg: Message, f: FieldDescriptor, values: list[Any]) -> None:
    """Set field ``f`` of ``msg`` to ``values`` (one for a singular field)."""
    if _is_map(f):
        target = getattr(msg, f.name)
        for k, v in values:
            target[k] = v
    elif f.is_repeated and f.type == FieldDescriptor.TYPE_MESSAGE:
        for v in values:
            getattr(msg, f.name).add().CopyFrom(v)
    elif f.is_repeated:
        getattr(msg, f.name).extend(values)
    elif f.type == FieldDescriptor.TYPE_MESSAGE:
        getattr(msg, f.name).CopyFrom(values[0])
    else:
        setattr(msg, f.name, values[0])


def _typical_value(draw: Draw, f: FieldDescriptor, targets: Targets, depth: int) -> Any:
    if _is_map(f):
        key_f, val_f = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
        return (_typical_scalar(draw, key_f, targets), _typical_scalar(draw, val_f, targets))
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        return build(draw, f.message_type, targets, "", "typical", depth - 1)
    return _typical_scalar(draw, f, targets)


def _typical_values(draw: Draw, f: FieldDescriptor, targets: Targets, depth: int) -> list[Any]:
    if f.type == FieldDescriptor.TYPE_MESSAGE and depth <= 0:
        return []
    n = draw(st.integers(1, 2)) if f.is_repeated and f.name not in targets.required else 1
    return [_typical_value(draw, f, targets, depth) for _ in range(n)]


def build(draw: Draw, desc: Descriptor, targets: Targets, path: str, kind: str, depth: int = 4) -> Message:
    """A message of ``desc`` with ``kind`` applied at ``path`` (relative; "" for the message itself)
    and every other field missing or typical."""
    msg = message_class(desc)()
    head, _, rest = path.partition(".")
    for f in desc.fields:
        if f.name != head:
            present = f.name in targets.required or draw(st.booleans())
            if present and f.name in targets.rare:
                present = draw(st.booleans())
            if present:
                values = _typical_values(draw, f, targets, depth)
                if values:
                    _set(msg, f, values)
            continue
        if rest:  # an ancestor of the field aimed at: present, with the kind applied below
            sub = build(draw, f.message_type, targets, rest, kind, depth - 1)
            _set(msg, f, [sub] + (_typical_values(draw, f, targets, depth)[:1] if f.is_repeated else []))
        else:
            _apply(draw, msg, f, kind, targets, depth)
    if path == "" and kind == "empty":
        return message_class(desc)()
    return msg


def _apply(draw: Draw, msg: Message, f: FieldDescriptor, kind: str, targets: Targets, depth: int) -> None:
    if kind == "missing" or (kind == "empty" and f.is_repeated):
        return
    if kind == "too_many":
        one = _typical_values(draw, f, targets, max(depth, 1))[:1]
        if _is_map(f):  # distinct keys, or the map keeps one entry
            _set(msg, f, [(f"{one[0][0]}{i}", one[0][1]) for i in range(BIG_COUNT)])
        else:
            _set(msg, f, one * BIG_COUNT)
        return
    if kind == "duplicate_ids":
        one = _typical_values(draw, f, targets, max(depth, 1))[0]
        for name in _ID_NAMES:
            if name in f.message_type.fields_by_name and not getattr(one, name):
                setattr(one, name, "dup")
        _set(msg, f, [one, one])
        return
    if _is_map(f):
        _set(msg, f, [draw(st.sampled_from(targets.hostile[f.name]))])
        return
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        if kind != "empty":
            raise ValueError(f"kind: {kind!r} does not apply to message field {f.full_name}")
        getattr(msg, f.name).SetInParent()
        return
    value = _bad_scalar(draw, f, kind, targets)
    _set(msg, f, [value] * (draw(st.integers(1, 2)) if f.is_repeated else 1))


def payload(msg: Message) -> bytes:
    """The wire bytes of ``msg``, each non-UTF-8 marker replaced by as many 0xff bytes."""
    return msg.SerializeToString().replace(MARKER, b"\xff" * len(MARKER))


def case(draw: Draw, desc: Descriptor, targets: Targets, path: str, kind: str) -> Case:
    """One :class:`Case` for (``path``, ``kind``) of :func:`plan`."""
    if kind == "garbage":
        junk = draw(st.binary(min_size=1, max_size=64))
        return Case(path, kind, message_class(desc)(), junk)
    msg = build(draw, desc, targets, path, "typical" if kind == "torn" else kind)
    data = payload(msg)
    if kind == "torn":
        if not data:
            data = b"\x0a\x05ab"  # field 1, length 5, 2 bytes: a length past the end
        data = data[:draw(st.integers(0, max(0, len(data) - 1)))] + (b"\x0a\x7f" if draw(st.booleans()) else b"")
    return Case(path, kind, msg, data)


def cases(desc: Descriptor, targets: Targets, adjust: Callable[[Message, str], None] | None = None
          ) -> st.SearchStrategy[Case]:
    """Cases for every (path, kind) of :func:`plan`, the kind drawn uniformly. ``adjust(message,
    kind)`` may cap a message in place (Generate's max_tokens) before it is serialized."""
    options = plan(desc, targets)

    @st.composite
    def strategy(draw: Draw) -> Case:
        path, kind = draw(st.sampled_from(options))
        c = case(draw, desc, targets, path, kind)
        if adjust is not None and kind not in ("torn", "garbage"):
            adjust(c.message, kind)
            c.payload = payload(c.message)
        return c

    return strategy()


def shortened(msg: Message, keep: int = 40, items: int = 3) -> Message:
    """A copy of ``msg`` with strings and bytes over ``keep`` characters cut (their length noted) and
    repeated fields over ``items`` elements cut to ``items`` (their count noted in a string)."""
    out = message_class(msg.DESCRIPTOR)()
    for f, value in msg.ListFields():
        if _is_map(f):
            for k, v in list(value.items())[:items]:
                getattr(out, f.name)[_cut(k, keep)] = _cut(v, keep)
            continue
        values = list(value) if f.is_repeated else [value]
        extra = len(values) - items
        values = values[:items]
        if f.type == FieldDescriptor.TYPE_MESSAGE:
            values = [shortened(v, keep, items) for v in values]
        else:
            values = [_cut(v, keep) for v in values]
        if extra > 0 and f.type in _TEXT:
            values.append(_cut(f"(+{extra} more)" if f.type == FieldDescriptor.TYPE_STRING else
                               f"(+{extra} more)".encode(), keep))
        _set(out, f, values)
    return out


def _cut(value: Any, keep: int) -> Any:
    if isinstance(value, str) and len(value) > keep:
        return f"{value[:keep // 2]}...({len(value)} chars)"
    if isinstance(value, bytes) and len(value) > keep:
        return value[:keep // 2] + f"...({len(value)} bytes)".encode()
    return value


def field_names(desc: Descriptor, depth: int = 6) -> set[str]:
    """Every field name reachable from ``desc`` (what a non-OK answer may name)."""
    names: set[str] = set()

    def walk(d: Descriptor, left: int) -> None:
        for f in d.fields:
            names.add(f.name)
            if f.type == FieldDescriptor.TYPE_MESSAGE and left > 0:
                walk(f.message_type, left - 1)

    walk(desc, depth)
    return names
