"""Extra-file paths: every malformed path is INVALID_ARGUMENT naming the field, through the engine
and through the gRPC service (never INTERNAL); well-formed nested paths reach the program."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
import pytest_asyncio
from conftest import bwrap_usable, settings

from codeeval.api.common.v1 import common_pb2
from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.kit.errors import InvalidArgument
from codeeval.kit.server import Runner
from codeeval.sandbox import server
from codeeval.sandbox.executor import Executor
from codeeval.sandbox.model import Language, Mode, RunRequest

pytestmark = [pytest.mark.asyncio(loop_scope="module"),
              pytest.mark.skipif(not bwrap_usable(), reason="bubblewrap not installed")]

#: (extra file paths, index of the path named in the error, a fragment of the message)
BAD = [
    (["."], 0, "plain relative path"),
    ([""], 0, "must not be empty"),
    (["a/./b"], 0, "plain relative path"),
    (["a//b"], 0, "plain relative path"),
    (["a/"], 0, "plain relative path"),
    (["../x"], 0, "plain relative path"),
    (["a/../../x"], 0, "plain relative path"),
    (["/etc/passwd"], 0, "absolute"),
    (["a\0b"], 0, "NUL"),
    (["ok.txt", "a", "a/b"], 2, "as a directory"),
    (["a/b", "ok.txt", "a"], 2, "as a directory"),
    (["x.txt", "x.txt"], 1, "duplicates extra_files[0]"),
    (["main.py"], 0, "runner's own file"),
    (["main.py/x"], 0, "runner's own file"),
    (["n" * 256], 0, "maximum of 255 bytes"),
    (["d/" * 600 + "x"], 0, "maximum of 1024 bytes"),
]


def request(paths: list[str], language: Language = Language.PYTHON) -> RunRequest:
    return RunRequest(language, "x = 1\n", mode=Mode.RUN, extra_files=tuple((p, "data") for p in paths))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def engine() -> AsyncIterator[Executor]:
    eng = Executor(settings(max_concurrency=1))
    await eng.backend.start()
    yield eng
    await eng.stop()


@pytest.mark.parametrize(("paths", "index", "fragment"), BAD)
async def test_engine_rejects_bad_paths_naming_the_field(engine: Executor, paths: list[str], index: int,
                                                         fragment: str):
    with pytest.raises(InvalidArgument) as err:
        await engine.execute(request(paths))
    assert str(err.value).startswith(f"program.extra_files[{index}].path: "), str(err.value)
    assert fragment in str(err.value)
    with pytest.raises(InvalidArgument) as err:
        async for _ in engine.execute_batch([request(["fine.txt"]), request(["fine.txt"]), request(paths)]):
            pass
    assert str(err.value).startswith(f"requests[2].program.extra_files[{index}].path: ")


async def test_java_sources_with_one_file_name_in_two_dirs_are_refused(engine: Executor):
    with pytest.raises(InvalidArgument, match=r"^program.extra_files\[1\].path: .*'X.java'"):
        await engine.execute(request(["a/X.java", "b/X.java"], Language.JAVA))


async def test_nested_paths_reach_the_program(engine: Executor):
    source = ("import pathlib\n"
              "print(pathlib.Path('/code/a/b/c.txt').read_text(), pathlib.Path('/code/a/d.txt').read_text())\n")
    req = RunRequest(Language.PYTHON, source, mode=Mode.RUN,
                     extra_files=(("a/b/c.txt", "one"), ("a/d.txt", "two")))
    res = await engine.execute(req)
    assert res.passed, res.detail
    assert res.stdout.decode().split() == ["one", "two"]


async def test_service_answers_invalid_argument_never_internal():
    s = settings(max_concurrency=1, health_recheck_seconds=30)
    runner = Runner(server.create(s), s)
    await runner.start()
    await runner.wait_ready(60)  # until then every RPC is UNAVAILABLE (still starting)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{runner.port}")
    stub = sandbox_pb2_grpc.SandboxServiceStub(channel)
    try:
        for paths, index, fragment in BAD:
            program = sandbox_pb2.Program(
                language=common_pb2.LANGUAGE_PYTHON, source=b"x = 1\n", mode=sandbox_pb2.MODE_RUN,
                extra_files=[common_pb2.SourceFile(path=p, content=b"data") for p in paths])
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.Execute(sandbox_pb2.ExecuteRequest(program=program))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (paths, err.value.details())
            assert err.value.details().startswith(f"program.extra_files[{index}].path: "), err.value.details()
            assert fragment in err.value.details()
            batch = sandbox_pb2.ExecuteBatchRequest(requests=[
                sandbox_pb2.ExecuteRequest(program=sandbox_pb2.Program(
                    language=common_pb2.LANGUAGE_PYTHON, source=b"x = 1\n", mode=sandbox_pb2.MODE_RUN)),
                sandbox_pb2.ExecuteRequest(program=program)])
            with pytest.raises(grpc.aio.AioRpcError) as err:
                [r async for r in stub.ExecuteBatch(batch)]
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert err.value.details().startswith(f"requests[1].program.extra_files[{index}].path: ")
    finally:
        await channel.close()
        await runner.shutdown(grace=1)
