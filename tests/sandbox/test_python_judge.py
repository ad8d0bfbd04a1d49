"""The Python judge in the real sandbox (bubblewrap): task shapes it must keep passing (HumanEval
names from the prompt, a candidate function named ``check``, MBPP-shaped module-level asserts with
``test_imports``, mutated arguments, exceptions the test expects), the failures it must report
(unencodable answers even when the test swallows them), input/expected tables, and the judge's
own confinement (another uid, no network)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import threading

import pytest
from conftest import FIXTURES

from codeeval.api.common.v1 import common_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2
from codeeval.kit.errors import InvalidArgument
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Limits, Mode, Outcome, RunRequest, TableTest
from codeeval.sandbox.runners.base import SUPPORT_DIR
from codeeval.sandbox.runners.judge import JUDGE_UID_OFFSET, JudgeServer
from codeeval.sandbox.runners.python import PythonRunner
from codeeval.sandbox.runners.support import py_codec
from codeeval.sandbox.servicer import request_from_pb

pytestmark = pytest.mark.asyncio(loop_scope="session")
LIMITS = Limits(wall_time_ms=10000)
MBPP = [json.loads(line) for line in (FIXTURES / "python" / "mbpp_shaped.jsonl").read_text().splitlines()]


def mbpp_request(rec: dict, broken: bool = False) -> RunRequest:
    """Sanitized MBPP shape: code as the source, test_imports then test_list at module level."""
    code = rec["code"]
    if broken:  # every function of the reference answers None
        code += "".join(f"\ndef {name}(*a, **k):\n    return None\n" for name in re.findall(r"^def (\w+)", code, re.M))
    test = "\n".join(rec["test_imports"] + rec["test_list"]) + "\n"
    kind = "broken" if broken else "ref"
    return RunRequest(Language.PYTHON, code, test, limits=LIMITS, id=f"{rec['task_id']}/{kind}")


async def outcomes(engine: Executor, reqs: list[RunRequest]) -> dict[str, tuple[Outcome, str]]:
    return {reqs[i].id: (res.outcome, res.detail) async for i, res in engine.execute_batch(reqs)}


async def test_mbpp_shaped_references_pass_and_broken_variants_fail(engine: Executor):
    reqs = [mbpp_request(r) for r in MBPP] + [mbpp_request(r, broken=True) for r in MBPP]
    got = await outcomes(engine, reqs)
    for r in MBPP:
        ref, broken = got[f"{r['task_id']}/ref"], got[f"{r['task_id']}/broken"]
        assert ref[0] is Outcome.PASSED, (r["task_id"], ref)
        assert broken[0] in (Outcome.FAILED, Outcome.RUNTIME_ERROR), (r["task_id"], broken)


async def test_candidate_function_named_check_with_a_humaneval_check(engine: Executor):
    """MBPP task 56's function is ``check``; the test's own ``check(candidate)`` shadows it."""
    source = MBPP[0]["code"]
    test = "def check(candidate):\n    assert candidate(73) is True\n    assert candidate(70) is False\n"
    res = await engine.execute(RunRequest(Language.PYTHON, source, test, "check", limits=LIMITS))
    assert res.outcome is Outcome.PASSED, res.detail


async def test_test_uses_prompt_functions_and_sees_candidate_prints(engine: Executor):
    """HumanEval/38 shape: the test calls ``encode_cyclic`` from the prompt; prints stay in stdout."""
    source = ("def encode(s):\n    return s[1:] + s[:1]\n\n"
              "def decode(s):\n    print('decoding', s)\n    return s[-1:] + s[:-1]\n")
    test = ("import random\n\ndef check(candidate):\n    for _ in range(20):\n"
            "        s = ''.join(random.choice('abc') for _ in range(5))\n"
            "        assert candidate(encode(s)) == s\n")
    res = await engine.execute(RunRequest(Language.PYTHON, source, test, "decode", limits=LIMITS))
    assert res.outcome is Outcome.PASSED, res.detail
    assert res.stdout.count(b"decoding") == 20


async def test_exact_types_reach_the_test(engine: Executor):
    source = "def f():\n    return (True, 1, 1.0, [1], {'a': {1, 2}}, b'x', None, 2**100)\n"
    test = ("def check(candidate):\n    r = candidate()\n"
            "    assert [type(x) for x in r] == [bool, int, float, list, dict, bytes, type(None), int]\n"
            "    assert type(r) is tuple and r[4]['a'] == {1, 2}\n")
    res = await engine.execute(RunRequest(Language.PYTHON, source, test, "f", limits=LIMITS))
    assert res.outcome is Outcome.PASSED, res.detail


async def test_failures_the_test_cannot_swallow_and_exceptions_it_can_expect(engine: Executor):
    swallow = "def check(candidate):\n    try:\n        candidate()\n    except BaseException:\n        pass\n"
    expect = ("def check(candidate):\n    try:\n        candidate()\n    except ValueError as e:\n"
              "        assert 'bad' in str(e)\n    else:\n        raise AssertionError('no error')\n")
    reqs = [
        RunRequest(Language.PYTHON, "def f():\n    return iter([])\n", swallow, "f", limits=LIMITS, id="gen"),
        RunRequest(Language.PYTHON, "import os\ndef f():\n    os._exit(0)\n", swallow, "f", limits=LIMITS, id="exit"),
        RunRequest(Language.PYTHON, "def f():\n    raise ValueError('bad')\n", expect, "f", limits=LIMITS, id="raise"),
        RunRequest(Language.PYTHON, "def g():\n    return 1\n", "def check(c):\n    pass\n", "f", limits=LIMITS,
                   id="missing"),
        RunRequest(Language.PYTHON, "def f():\n    return 1\n", "def check(c:\n", "f", limits=LIMITS, id="bad-test"),
        RunRequest(Language.PYTHON, "def f(x):\n    return x\n", "def check(c):\n    c(lambda: 1)\n", "f",
                   limits=LIMITS, id="lambda-arg"),
    ]
    got = await outcomes(engine, reqs)
    assert got["gen"][0] is Outcome.FAILED and "list_iterator" in got["gen"][1]
    assert got["exit"][0] is Outcome.RUNTIME_ERROR
    assert got["raise"][0] is Outcome.PASSED, got["raise"]
    assert got["missing"] == (Outcome.RUNTIME_ERROR, "the candidate defines no function f()")
    assert got["bad-test"][0] is Outcome.COMPILE_ERROR and "test code" in got["bad-test"][1]
    assert got["lambda-arg"][0] is Outcome.RUNTIME_ERROR and "cannot carry" in got["lambda-arg"][1]


TABLE_REF = "def mean(xs, w=1.0):\n    return sum(xs) / len(xs) * w\n"
TABLE_INPUTS = ("[[1, 2, 3]]", "[[0.1, 0.2], 2.0]", "[[1e9, 1]]")


async def test_input_table_expected_from_the_reference_with_atol(engine: Executor):
    def req(source: str, atol: float = 0.0, rid: str = "") -> RunRequest:
        return RunRequest(Language.PYTHON, source, entry_point="mean", limits=LIMITS, id=rid,
                          table=TableTest(TABLE_REF, TABLE_INPUTS, atol))

    reqs = [
        req("def mean(xs, w=1.0):\n    return w * sum(xs) / len(xs)\n", rid="same"),
        req("def mean(xs, w=1.0):\n    return w * sum(xs) / len(xs) + 1e-4\n", rid="close-no-atol"),
        req("def mean(xs, w=1.0):\n    return w * sum(xs) / len(xs) + 1e-4\n", atol=1e-3, rid="close-atol"),
        req("def mean(xs, w=1.0):\n    return sum(xs)\n", atol=1e-3, rid="wrong"),
        req("def mean(xs, w=1.0):\n    return [sum(xs) / len(xs) * w]\n", rid="wrong-type"),
        RunRequest(Language.PYTHON, "def mean(xs):\n    return 0\n", entry_point="mean", limits=LIMITS, id="bad-ref",
                   table=TableTest("def mean(xs):\n    return 1 / 0\n", ("[[1]]",))),
    ]
    got = await outcomes(engine, reqs)
    assert got["same"][0] is Outcome.PASSED and got["close-atol"][0] is Outcome.PASSED, got
    assert got["close-no-atol"][0] is Outcome.FAILED and "input #0" in got["close-no-atol"][1]
    assert got["wrong"][0] is Outcome.FAILED and got["wrong-type"][0] is Outcome.FAILED
    assert got["bad-ref"][0] is Outcome.SANDBOX_ERROR and "reference solution failed" in got["bad-ref"][1]


@pytest.mark.parametrize("table, mode, test, field", [
    (TableTest(TABLE_REF, ("[1]", "{}")), Mode.RUN_TESTS, "", "program.table.inputs[1]"),
    (TableTest(TABLE_REF, ("not json",)), Mode.RUN_TESTS, "", "program.table.inputs[0]"),
    (TableTest(TABLE_REF, ()), Mode.RUN_TESTS, "", "program.table.inputs"),
    (TableTest("  ", ("[1]",)), Mode.RUN_TESTS, "", "program.table.reference_source"),
    (TableTest(TABLE_REF, ("[1]",), atol=-1), Mode.RUN_TESTS, "", "program.table.atol"),
    (TableTest(TABLE_REF, ("[1]",)), Mode.RUN, "", "program.mode"),
    (TableTest(TABLE_REF, ("[1]",)), Mode.RUN_TESTS, "assert 1", "program.test"),
])
async def test_bad_tables_are_invalid_argument_naming_the_field(engine: Executor, table, mode, test, field):
    with pytest.raises(InvalidArgument) as err:
        await engine.execute(RunRequest(Language.PYTHON, "x = 1", test, "mean", mode=mode, table=table))
    assert err.value.field == field


async def test_table_from_the_proto():
    m = sandbox_pb2.ExecuteRequest(program=sandbox_pb2.Program(
        language=common_pb2.LANGUAGE_PYTHON, source=b"x", entry_point="mean",
        table=sandbox_pb2.TableTest(reference_source=TABLE_REF.encode(), inputs=list(TABLE_INPUTS), atol=0.5)))
    assert request_from_pb(m).table == TableTest(TABLE_REF, TABLE_INPUTS, 0.5)
    plain = sandbox_pb2.Program(language=common_pb2.LANGUAGE_PYTHON, source=b"x")
    assert request_from_pb(sandbox_pb2.ExecuteRequest(program=plain)).table is None


async def test_judge_runs_as_another_uid_without_network(engine: Executor, host_listener: socket.socket):
    """The test code (the judge) is not the service's uid when root, has no network, sees no candidate."""
    port = host_listener.getsockname()[1]
    test = ("import os, socket\n\ndef check(candidate):\n    uid = candidate()\n"
            "    assert os.getuid() != uid, (os.getuid(), uid)\n"
            f"    assert {os.geteuid()} != 0 or os.getuid() >= {engine.settings.uid_base + JUDGE_UID_OFFSET}\n"
            "    try:\n"
            f"        socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    except OSError:\n        pass\n    else:\n        raise AssertionError('network reachable')\n"
            "    assert os.getpid() < 100, os.getpid()\n")
    res = await engine.execute(RunRequest(Language.PYTHON, "import os\ndef f():\n    return os.getuid()\n",
                                          test, "f", limits=LIMITS))
    assert res.outcome is Outcome.PASSED, res.detail
    with pytest.raises(BlockingIOError):
        host_listener.accept()


async def test_path_channel_for_backends_that_cannot_pass_an_fd(engine: Executor):
    """The docker backend's mode (a Unix socket in the read-only run dir, the worker copied beside
    it), run here on bubblewrap: verdicts are the same, and a candidate that dies before it
    connects is a runtime error, not a wait or a sandbox error."""
    runner = engine.runners[Language.PYTHON]
    assert isinstance(runner, PythonRunner)
    test = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
    reqs = [RunRequest(Language.PYTHON, "def add(a, b):\n    return a + b\n", test, "add", limits=LIMITS, id="ok"),
            RunRequest(Language.PYTHON, "def add(a, b):\n    return a - b\n", test, "add", limits=LIMITS, id="wrong"),
            RunRequest(Language.PYTHON, "import os\nos._exit(0)\n", test, "add", limits=LIMITS, id="exit")]
    assert runner.channel_by_path is False
    runner.channel_by_path = True
    try:
        got = await outcomes(engine, reqs)
    finally:
        runner.channel_by_path = False
    assert {k: v[0] for k, v in got.items()} == {"ok": Outcome.PASSED, "wrong": Outcome.FAILED,
                                                  "exit": Outcome.RUNTIME_ERROR}, got


async def test_test_code_that_loops_or_grows_is_bounded(engine: Executor):
    """The judge's own limits: a test that never ends is a TIMEOUT (the candidate's wall limit),
    one that exhausts memory in the judge is MEMORY_EXCEEDED."""
    limits = Limits(wall_time_ms=2000, cpu_time_ms=2000, memory_bytes=256 << 20)
    source = "def f():\n    return 1\n"
    reqs = [RunRequest(Language.PYTHON, source, "def check(c):\n    while True:\n        pass\n", "f", limits=limits,
                       id="loop"),
            RunRequest(Language.PYTHON, source, "def check(c):\n    x = [c()] * (1 << 40)\n", "f", limits=limits,
                       id="grow")]
    got = await outcomes(engine, reqs)
    assert got["loop"][0] is Outcome.TIMEOUT, got
    assert got["grow"][0] is Outcome.MEMORY_EXCEEDED, got


def _fake_candidate(fd: int, answers: list[object], frames: list[bytes]) -> None:
    """The candidate's side of the protocol, by hand: hello, then one answer per call."""
    with socket.socket(fileno=fd) as sock:
        sock.sendall(py_codec.dumps({"functions": ["f"]}))
        for answer in answers:
            body = sock.recv(1 << 16)[4:]
            request = py_codec.unpack(body)
            frames.append(body)
            sock.sendall(py_codec.dumps({"seq": request["seq"], "value": py_codec.encode(answer)}))
        frames.append(sock.recv(1 << 16)[4:])


@pytest.mark.parametrize("answer, calls, verdict", [(42, 2, "PASSED"), (41, 2, "FAILED"), (True, 1, "FAILED")])
async def test_judge_server_unprivileged_argv_speaks_the_protocol(answer: object, calls: int, verdict: str):
    """The judge as a pod starts it (no root: its own user namespace, uid 65534), driven directly."""
    server = JudgeServer(None, lambda: SUPPORT_DIR)
    assert server.argv()[:2] == ["unshare", "--user"]
    frames: list[bytes] = []
    try:
        server.start()
        run = server.open()
        request = {"kind": "check", "test": "def check(c):\n    assert type(c(7)) is int and c(7) == 42\n",
                   "entry_point": "f", "wall_s": 10.0}
        await asyncio.get_running_loop().sock_sendall(run.control, py_codec.dumps(request))
        fd, run.candidate_fd = run.candidate_fd, -1
        thread = threading.Thread(target=_fake_candidate, args=(fd, [answer] * calls, frames))
        thread.start()
        result = await run.verdict(10.0)
        thread.join(10)
        run.close()
    finally:
        server.stop()
    assert result is not None and result["verdict"] == verdict, result
    call = py_codec.unpack(frames[0])
    assert py_codec.decode(call["args"]) == (7,) and call["want_args"] is False  # nothing to write back
    assert py_codec.unpack(frames[-1]) == {"op": "exit"}


async def test_candidate_limits_during_a_call_are_typed(engine: Executor):
    """Time, memory and output limits hit inside a call end as their own outcome, never a pass."""
    limits = Limits(wall_time_ms=2000, cpu_time_ms=2000, memory_bytes=256 << 20, output_bytes=4096)
    test = "def check(candidate):\n    assert candidate() == 1\n"
    bodies = {"loop": "    while True:\n        pass\n",
              "grow": "    x = []\n    while True:\n        x.append(' ' * 10**6)\n",
              "flood": "    while True:\n        print('x' * 10000)\n",
              "kill": "    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)\n"}
    reqs = [RunRequest(Language.PYTHON, f"def f():\n{body}", test, "f", limits=limits, id=k)
            for k, body in bodies.items()]
    got = {k: v[0] for k, v in (await outcomes(engine, reqs)).items()}
    assert got == {"loop": Outcome.TIMEOUT, "grow": Outcome.MEMORY_EXCEEDED, "flood": Outcome.OUTPUT_LIMIT_EXCEEDED,
                   "kill": Outcome.RUNTIME_ERROR}, got


SCAN_JUDGE = '''import ctypes, gc, os, re
PATTERN = re.compile(rb"codeeval-judge-secret-[0-9a-f]{32}")
LIBC = ctypes.CDLL(None, use_errno=True)


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def read(address, size):
    """Own memory through process_vm_readv: the judge is not dumpable, so /proc/self/mem is root's."""
    buf = ctypes.create_string_buffer(size)
    local, remote = IoVec(ctypes.cast(buf, ctypes.c_void_p), size), IoVec(address, size)
    got = LIBC.process_vm_readv(os.getpid(), ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    return buf.raw[:got] if got > 0 else b""


def check(candidate):
    found = set()
    for obj in gc.get_objects():
        if isinstance(obj, str) and "judge-secret" in obj:
            found.update(m.group() for m in PATTERN.finditer(obj.encode()))
    scanned = 0
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in span.split("-"))
            for at in range(lo, hi, 1 << 20) if "r" in perms else ():
                chunk = read(at, min(1 << 20, hi - at))
                scanned += len(chunk)
                found.update(m.group() for m in PATTERN.finditer(chunk))
    assert scanned > 1 << 20, scanned
    assert candidate() == 1 and not found, found
'''


async def test_a_judge_keeps_nothing_of_earlier_runs(engine: Executor):
    """Each run's test code reaches only the judge's forked child: a later run on the same warm
    server finds nothing of an earlier run's expected values in the judge's memory."""
    secret = "codeeval-judge-secret-" + os.urandom(16).hex()
    first = RunRequest(Language.PYTHON, f"def f():\n    return {secret!r}\n",
                       f"def check(candidate):\n    assert candidate() == {secret!r}\n", "f", limits=LIMITS)
    for _ in range(engine.settings.max_concurrency):  # every warm server has judged it once
        assert (await engine.execute(first)).outcome is Outcome.PASSED
    res = await engine.execute(RunRequest(Language.PYTHON, "def f():\n    return 1\n", SCAN_JUDGE, "f", limits=LIMITS))
    assert res.outcome is Outcome.PASSED, res.detail
