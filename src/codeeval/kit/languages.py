"""The one language table: name, file extension, proto enum value, pretty name, comment syntax.

Every importer (cores, servicers, CLI, bench, trainer) may import this module: it imports nothing
but :mod:`codeeval.kit.names` and :mod:`codeeval.kit.errors`, in particular not the generated stubs,
so ``proto`` is the integer value of ``codeeval.common.v1.Language`` (a test checks it against the
generated enum). Lookups raise :class:`~codeeval.kit.errors.InvalidArgument` naming the field, with
a did-you-mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from codeeval.kit.errors import InvalidArgument
from codeeval.kit.names import did_you_mean


@dataclass(frozen=True)
class Language:
    """One supported language.

    ``name`` is the lower-case name used in suites, configs and the cores; ``extension`` has no dot;
    ``proto`` and ``proto_name`` are the ``codeeval.common.v1.Language`` value and its name;
    ``fences`` are the Markdown fence tags a model may use for it; ``line_comment`` starts a comment.
    """

    name: str
    extension: str
    proto: int
    proto_name: str
    pretty: str
    line_comment: str
    fences: tuple[str, ...]

    @property
    def suffix(self) -> str:
        """The extension with its dot (``.py``)."""
        return f".{self.extension}"


PYTHON = Language("python", "py", 1, "LANGUAGE_PYTHON", "Python", "#", ("python", "py", "python3"))
JAVA = Language("java", "java", 2, "LANGUAGE_JAVA", "Java", "//", ("java",))
CSHARP = Language("csharp", "cs", 3, "LANGUAGE_CSHARP", "C#", "//", ("csharp", "cs", "c#", "c-sharp"))

#: By name, in the order of the proto enum.
LANGUAGES: dict[str, Language] = {lang.name: lang for lang in (PYTHON, JAVA, CSHARP)}
#: The names, for ``Literal`` choices and help texts.
NAMES: tuple[str, ...] = tuple(LANGUAGES)
#: The names as a type, for pydantic schemas (a test checks it equals :data:`NAMES`).
LanguageName = Literal["python", "java", "csharp"]
#: ``codeeval.common.v1.Language.LANGUAGE_UNSPECIFIED``.
PROTO_UNSPECIFIED = 0


def get(name: str, field: str = "language") -> Language:
    """The language called ``name``; InvalidArgument naming ``field`` otherwise."""
    if name in LANGUAGES:
        return LANGUAGES[name]
    raise InvalidArgument(f"unknown language {name!r}{did_you_mean(name, NAMES)}", field=field)


def by_proto(value: int, field: str = "language") -> Language:
    """The language of a ``codeeval.common.v1.Language`` value; InvalidArgument for others (and UNSPECIFIED)."""
    for lang in LANGUAGES.values():
        if lang.proto == value:
            return lang
    names = ", ".join(lang.proto_name for lang in LANGUAGES.values())
    raise InvalidArgument(f"unknown language {value}; use {names}", field=field)


def by_suffix(suffix: str) -> Language | None:
    """The language of a file suffix (``.py`` or ``py``), or None."""
    ext = suffix.lower().removeprefix(".")
    return next((lang for lang in LANGUAGES.values() if lang.extension == ext), None)


def by_fence(tag: str) -> Language | None:
    """The language of a Markdown fence tag (``py``, ``c#``...), or None."""
    tag = tag.lower()
    return next((lang for lang in LANGUAGES.values() if tag in lang.fences), None)
