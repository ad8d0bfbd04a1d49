"""Settings precedence, client channels (token, TLS, mutual TLS) against an in-process server."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import grpc
import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from support.kit_fake import start

from codeeval.api.sandbox.v1 import sandbox_pb2, sandbox_pb2_grpc
from codeeval.kit.client import open_channel, wait_serving
from codeeval.kit.settings import ServiceSettings


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CODEEVAL_DEMO_", extra="forbid")
    section = "demo"
    workers: int = 2


def test_precedence_defaults_yaml_env_overrides(tmp_path, monkeypatch):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("demo:\n  workers: 3\n  port: 7000\nother:\n  workers: 99\n")
    assert DemoSettings.load().workers == 2
    assert DemoSettings.load(cfg).workers == 3
    monkeypatch.setenv("CODEEVAL_DEMO_WORKERS", "4")
    loaded = DemoSettings.load(cfg)
    assert (loaded.workers, loaded.port) == (4, 7000)
    assert DemoSettings.load(cfg, workers=5).workers == 5
    monkeypatch.setenv("CODEEVAL_CONFIG", str(cfg))
    assert DemoSettings.load().port == 7000


def test_invalid_settings_name_the_field(tmp_path):
    with pytest.raises(ValidationError, match="port"):
        DemoSettings.load(port=70000)
    with pytest.raises(ValidationError, match="compute_threads"):
        DemoSettings.load(compute_threads=0)


def test_record_leaves_out_the_token():
    rec = DemoSettings.load(auth_token="hunter2").record()
    assert "hunter2" not in str(rec) and rec["workers"] == 2


@pytest.fixture()
def loop():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()


def test_sync_client_sends_env_token(loop, monkeypatch):
    runner, _ = loop.run_until_complete(start(auth_token="tok"))
    addr = f"127.0.0.1:{runner.port}"
    try:
        monkeypatch.setenv("CODEEVAL_AUTH_TOKEN", "tok")
        with open_channel(addr) as ch:
            fut = loop.run_in_executor(None, lambda: sandbox_pb2_grpc.SandboxServiceStub(ch).Execute(
                sandbox_pb2.ExecuteRequest(id="t"), timeout=5))
            assert loop.run_until_complete(fut).result.id == "t"
        monkeypatch.setenv("CODEEVAL_AUTH_TOKEN", "wrong")
        with open_channel(addr) as ch:
            fut = loop.run_in_executor(None, lambda: sandbox_pb2_grpc.SandboxServiceStub(ch).Execute(
                sandbox_pb2.ExecuteRequest(id="t"), timeout=5))
            with pytest.raises(grpc.RpcError) as info:
                loop.run_until_complete(fut)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        loop.run_until_complete(runner.shutdown())


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "1", "-subj", "/CN=codeeval-test-ca", cwd=d)
    exts = [("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"), ("client", "extendedKeyUsage=clientAuth")]
    for name, ext in exts:
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext", cwd=d)
    return d


def test_tls_and_mutual_tls(loop, pki):
    tls = dict(tls_cert_file=pki / "server.pem", tls_key_file=pki / "server.key")
    runner, _ = loop.run_until_complete(start(**tls))
    try:
        with open_channel(f"127.0.0.1:{runner.port}", ca_file=str(pki / "ca.pem")) as ch:
            loop.run_until_complete(loop.run_in_executor(None, wait_serving, ch, 10))
    finally:
        loop.run_until_complete(runner.shutdown())

    runner, _ = loop.run_until_complete(start(tls_client_ca_file=pki / "ca.pem", **tls))
    addr = f"127.0.0.1:{runner.port}"
    try:
        call = lambda ch: sandbox_pb2_grpc.SandboxServiceStub(ch).Execute(  # noqa: E731
            sandbox_pb2.ExecuteRequest(id="m"), timeout=5)
        with open_channel(addr, ca_file=str(pki / "ca.pem"), cert_file=str(pki / "client.pem"),
                          key_file=str(pki / "client.key")) as ch:
            assert loop.run_until_complete(loop.run_in_executor(None, call, ch)).result.id == "m"
        with open_channel(addr, ca_file=str(pki / "ca.pem")) as ch, pytest.raises(grpc.RpcError) as info:
            loop.run_until_complete(loop.run_in_executor(None, call, ch))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE  # handshake refused without a client cert
    finally:
        loop.run_until_complete(runner.shutdown())
