"""The one language table matches the proto enum and answers every lookup the project makes."""

from __future__ import annotations

from typing import get_args

import pytest

from codeeval.api.common.v1 import common_pb2
from codeeval.kit import languages
from codeeval.kit.errors import InvalidArgument


def test_table_matches_the_proto_enum():
    assert languages.PROTO_UNSPECIFIED == common_pb2.LANGUAGE_UNSPECIFIED
    for lang in languages.LANGUAGES.values():
        assert common_pb2.Language.Value(lang.proto_name) == lang.proto
    named = set(common_pb2.Language.keys()) - {"LANGUAGE_UNSPECIFIED"}
    assert named == {lang.proto_name for lang in languages.LANGUAGES.values()}
    assert get_args(languages.LanguageName) == languages.NAMES


def test_lookups():
    assert languages.get("csharp").extension == "cs" and languages.CSHARP.suffix == ".cs"
    assert languages.by_suffix(".py") is languages.PYTHON and languages.by_suffix("java") is languages.JAVA
    assert languages.by_suffix(".rs") is None
    assert languages.by_fence("C#") is languages.CSHARP and languages.by_fence("python3") is languages.PYTHON
    assert languages.by_proto(common_pb2.LANGUAGE_JAVA) is languages.JAVA
    with pytest.raises(InvalidArgument, match=r"language: unknown language 'pyhton'; did you mean 'python'\?"):
        languages.get("pyhton")
    with pytest.raises(InvalidArgument, match="program.language: unknown language 0; use LANGUAGE_PYTHON"):
        languages.by_proto(0, "program.language")
