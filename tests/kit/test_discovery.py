"""Service discovery through the ``codeeval.services`` entry points of the installed distributions."""

from __future__ import annotations

import pytest

from codeeval.cli.main import main
from codeeval.kit.client import LocalService
from codeeval.kit.discovery import UnknownServiceError, check_service_name, load_service, service_names


def test_every_service_distribution_declares_its_entry_point():
    assert set(service_names()) >= {"sandbox", "analyzer", "generator", "trainer"}


def test_loading_a_service_gives_its_bootstrap_module():
    module = load_service("analyzer")
    assert module.__name__ == "codeeval.analyzer.server"
    assert callable(module.create) and hasattr(module.SETTINGS, "load")


def test_an_unknown_name_says_which_service_was_meant():
    with pytest.raises(UnknownServiceError, match=r"unknown service 'sandbx'; did you mean 'sandbox'\?"):
        check_service_name("sandbx")
    with pytest.raises(UnknownServiceError, match="known: analyzer, generator, sandbox, trainer"):
        load_service("zzz")


def test_local_service_refuses_an_unknown_name_before_spawning():
    svc = LocalService("analyser")
    with pytest.raises(UnknownServiceError, match="did you mean 'analyzer'"):
        svc.start(timeout=5)
    assert svc.proc is None


@pytest.mark.parametrize("argv", [["serve", "trainr"], ["up", "sandbox", "trainr"]])
def test_cli_names_the_unknown_service_and_exits_2(argv, capsys, tmp_path):
    assert main([*argv, *(["--log-dir", str(tmp_path)] if argv[0] == "up" else [])]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "unknown service 'trainr'; did you mean 'trainer'?" in err
