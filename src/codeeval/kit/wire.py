"""Why a request's bytes do not parse, and where: the field path of the first string that is not
UTF-8, of a length that runs past its message, or of a message nested too deep.

gRPC's Python server turns a request it cannot deserialize into UNKNOWN ("Unexpected DecodeError")
before any handler runs; :func:`decode_error` lets the error interceptor answer INVALID_ARGUMENT naming
the field instead (a client that sends bad UTF-8 in a string, or a torn message). Cost: one pass over
the request's bytes, only for a request that already failed to parse.
"""

from __future__ import annotations

from google.protobuf.descriptor import Descriptor, FieldDescriptor

#: protobuf's own recursion limit for nested messages.
MAX_DEPTH = 100


class _Bad(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _varint(data: bytes, pos: int, path: str) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise _Bad(path, "wire format corrupt (truncated varint)")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _walk(desc: Descriptor, data: bytes, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _Bad(path, f"messages nested deeper than {MAX_DEPTH} levels")
    counts: dict[int, int] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos, path)
        number, wire = key >> 3, key & 7
        field = desc.fields_by_number.get(number)
        name = path if field is None else _join(path, field.name)
        if field is not None and field.is_repeated:
            counts[number] = counts.get(number, 0) + 1
            name = f"{name}[{counts[number] - 1}]"
        if number == 0:
            raise _Bad(path, "wire format corrupt (field number 0)")
        if wire == 0:
            _, pos = _varint(data, pos, name)
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
            if pos > len(data):
                raise _Bad(name, "wire format corrupt (truncated fixed-width value)")
        elif wire == 2:
            size, pos = _varint(data, pos, name)
            if pos + size > len(data):
                raise _Bad(name, f"wire format corrupt (length {size} runs past the end of the message)")
            chunk, pos = data[pos:pos + size], pos + size
            if field is None:
                continue
            if field.type == FieldDescriptor.TYPE_STRING:
                try:
                    chunk.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise _Bad(name, f"not valid UTF-8 (byte {exc.start})") from None
            elif field.type == FieldDescriptor.TYPE_MESSAGE:
                _walk(field.message_type, chunk, name, depth + 1)
        else:
            raise _Bad(name, f"wire format corrupt (wire type {wire})")


def decode_error(desc: Descriptor, data: bytes) -> tuple[str, str]:
    """(field path, reason) for ``data`` that failed to parse as ``desc``; the path is ``"request"``
    when the fault is not inside a field (a torn key at the top level) or could not be located."""
    try:
        _walk(desc, data, "", 0)
    except _Bad as bad:
        return bad.path or "request", bad.message
    return "request", f"not a valid {desc.full_name} message"
