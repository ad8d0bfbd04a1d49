"""Unit tests of the Python judge's value encoding (support/py_codec.py), its comparison and
write-back helpers (support/py_judge.py) and the host's mapping of a judged run to an outcome."""

from __future__ import annotations

import collections
import math

import pytest

from codeeval.sandbox.model import Limits, Outcome, ProcessResult
from codeeval.sandbox.runners import protocol
from codeeval.sandbox.runners.python import judged_result
from codeeval.sandbox.runners.support import py_codec, py_judge

ROUND_TRIPS = [
    None, True, False, 0, -1, 7, 2**200, -(3**500), 10**5000, 0.1, -0.0, 1e308, 5e-324, math.inf, -math.inf,
    1 + 2j, "", "héllo \u2603 \udc80", b"\x00\xff", bytearray(b"ab"), [], [1, [2, [3]]], (), (1,), (1, "a", (2.5,)),
    {}, {1: "a", (1, 2): [3], "k": {"n": None}}, set(), {1, 2, "x"}, frozenset({(1, 2), 3}), [True, 1, 1.0],
]


@pytest.mark.parametrize("value", ROUND_TRIPS, ids=lambda v: type(v).__name__)
def test_round_trip_keeps_value_and_exact_types(value):
    body = py_codec.dumps({"v": py_codec.encode(value)})
    back = py_codec.decode(py_codec.loads(body[4:])["v"])
    assert back == value
    assert _types(back) == _types(value)


def _types(v):
    if isinstance(v, (list, tuple)):
        return (type(v), [_types(x) for x in v])
    if isinstance(v, dict):
        return (dict, sorted((repr(_types(k)), repr(_types(x))) for k, x in v.items()))
    return type(v)


def test_nan_round_trips_as_nan():
    assert math.isnan(py_codec.decode(py_codec.encode(math.nan)))  # type: ignore[arg-type]


def test_builtin_subclasses_become_plain_builtins_without_their_overrides():
    class Sneaky(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    class Loud(str):
        def __str__(self):
            return "forged"

    point = collections.namedtuple("point", "x y")
    values = [Sneaky(3), Loud("real"), point(1, 2), collections.Counter("aab"), collections.OrderedDict(a=1)]
    back = [py_codec.decode(py_codec.encode(v)) for v in values]
    assert back == [3, "real", (1, 2), {"a": 2, "b": 1}, {"a": 1}]
    assert [type(b) for b in back] == [int, str, tuple, dict, dict]


def _generator():
    yield 1


@pytest.mark.parametrize("value, named", [
    (iter(range(0)), "range_iterator"), (_generator(), "generator"), (object(), "object"),
    (len, "builtin_function_or_method"),
    (range(3), "range"), ([1, {2: map(str, [])}], "map"),
])
def test_values_that_are_not_data_are_refused_with_their_type(value, named):
    with pytest.raises(py_codec.Unencodable, match=named):
        py_codec.encode(value)


def test_class_spoofing_does_not_fool_the_encoder():
    class Spoof:
        @property  # type: ignore[misc]
        def __class__(self):
            return int

    assert isinstance(Spoof(), int)
    with pytest.raises(py_codec.Unencodable, match="Spoof"):
        py_codec.encode(Spoof())


def test_open_files_are_refused(tmp_path):
    with open(tmp_path / "f", "w") as fh, pytest.raises(py_codec.Unencodable, match="TextIOWrapper"):
        py_codec.encode(fh)


@pytest.mark.parametrize("tree, message", [
    (["q", 1], "unknown type tag"), ("x", "starts with a type tag"), ([], "starts with a type tag"),
    (["i", 5], "needs one str"), (["b", 1], "needs one bool"), (["i", "zz"], "tag 'i'"),
    (["l", "abc"], "list of items"), (["d", [[["i", "0x1"]]]], "key, value"), (["n", 1], "unknown type tag"),
    (["e", [["l", []]]], "unhashable"), (["d", [[["l", []], ["n"]]]], "unhashable"), (["f", "1.0x"], "tag 'f'"),
])
def test_decode_rejects_malformed_trees(tree, message):
    with pytest.raises(py_codec.CodecError, match=message):
        py_codec.decode(tree)


def test_depth_and_size_limits():
    deep: list = []
    for _ in range(py_codec.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(py_codec.CodecError, match="nested deeper"):
        py_codec.encode(deep)
    tree: list = ["n"]
    for _ in range(py_codec.MAX_DEPTH + 5):
        tree = ["l", [tree]]
    with pytest.raises(py_codec.CodecError, match="nested deeper"):
        py_codec.decode(tree)
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(py_codec.CodecError):
        py_codec.encode(cyclic)
    with pytest.raises(py_codec.CodecError, match="more than"):
        py_codec.decode(["l", [["n"]] * (py_codec.MAX_NODES + 1)])


def test_frames_reject_oversize_non_objects_and_json_constants():
    with pytest.raises(py_codec.CodecError, match="limit"):
        py_codec.body_size((py_codec.MAX_FRAME + 1).to_bytes(4, "big"))
    for body in (b"[1]", b"\xff", b'{"a": NaN}', b"{" * 100000):
        with pytest.raises(py_codec.CodecError):
            py_codec.loads(body)


def test_close_enough_is_evalplus_style():
    assert py_judge.close_enough(0.1 + 0.2, 0.3, 0.0)
    assert not py_judge.close_enough(1.0, 1.001, 0.0)
    assert py_judge.close_enough([1.0, (2.0, "a")], [1.0005, (2.0, "a")], 1e-3)
    assert not py_judge.close_enough([1.0], (1.0,), 1.0)
    assert py_judge.close_enough({"k": 1.0}, {"k": 1}, 0.0)
    assert py_judge.close_enough(math.nan, math.nan, 0.0)
    assert not py_judge.close_enough("1.0", 1.0, 1.0)


def test_write_back_updates_the_judges_objects_in_place():
    inner = [1]
    outer = [inner, 2]
    d = {"a": [1], "gone": 1}
    s = {1}
    assert py_judge._write_back((outer, d, s), ([[1, 9], 3], {"a": [1, 2], "new": 0}, {2, 3}))
    assert outer == [[1, 9], 3] and outer[0] is inner and inner == [1, 9]
    assert d == {"a": [1, 2], "new": 0}
    assert s == {2, 3}


def _pr(**kw) -> ProcessResult:
    return ProcessResult(**{"exit_code": 0, "stderr": protocol.START, **kw})


@pytest.mark.parametrize("pr, verdict, outcome", [
    (_pr(), {"verdict": "PASSED"}, Outcome.PASSED),
    (_pr(), {"verdict": "FAILED"}, Outcome.FAILED),
    (_pr(timed_out=True), {"verdict": "PASSED"}, Outcome.TIMEOUT),
    (_pr(output_exceeded=True), {"verdict": "PASSED"}, Outcome.OUTPUT_LIMIT_EXCEEDED),
    (_pr(oom_killed=True), {"verdict": "GONE"}, Outcome.MEMORY_EXCEEDED),
    (_pr(exit_code=1, stderr=protocol.START + b"MemoryError"), {"verdict": "GONE"}, Outcome.MEMORY_EXCEEDED),
    (_pr(exit_code=0), {"verdict": "GONE"}, Outcome.RUNTIME_ERROR),
    (_pr(), None, Outcome.SANDBOX_ERROR),
    (_pr(stderr=b"", exit_code=1, sandbox_failure="bwrap: x"), None, Outcome.SANDBOX_ERROR),
    (_pr(stderr=b""), {"verdict": "PASSED"}, Outcome.SANDBOX_ERROR),
    (_pr(), {"verdict": "REFERENCE_ERROR"}, Outcome.SANDBOX_ERROR),
    (_pr(), {"verdict": "JUDGE_MEMORY"}, Outcome.MEMORY_EXCEEDED),
])
def test_judged_outcome_mapping(pr, verdict, outcome):
    """Glue only: the same paths run for real in test_python_judge.py and test_reward_hacking_python.py."""
    assert judged_result(pr, verdict, Limits()).outcome is outcome


def test_json_frames_are_written_without_the_json_module_and_read_back():
    message = {"seq": 3, "value": py_codec.encode(["\u2603", "\udc80", '"\\\n', -7, None, True]), "x": 1.5, "n": None}
    frame = py_codec.dumps(message)
    assert py_codec.body_size(frame[:4]) == len(frame) - 4
    assert py_codec.loads(frame[4:]) == message
    for bad in ({"f": float("nan")}, {"f": float("inf")}, {1: 2}, {"o": object()}, {"t": (1,)}):
        with pytest.raises(py_codec.CodecError):
            py_codec.dumps(bad)


def test_marshal_frames_carry_requests_and_refuse_anything_else():
    request = {"op": "call", "seq": 1, "args": py_codec.encode((1, [2.5])), "want_args": False}
    frame = py_codec.pack(request)
    assert py_codec.unpack(frame[4:]) == request
    for bad in (b"", b"\x00garbage", b"i\x01\x00\x00\x00"):
        with pytest.raises(py_codec.CodecError):
            py_codec.unpack(bad)
