from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Language(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LANGUAGE_UNSPECIFIED: _ClassVar[Language]
    LANGUAGE_PYTHON: _ClassVar[Language]
    LANGUAGE_JAVA: _ClassVar[Language]
    LANGUAGE_CSHARP: _ClassVar[Language]
LANGUAGE_UNSPECIFIED: Language
LANGUAGE_PYTHON: Language
LANGUAGE_JAVA: Language
LANGUAGE_CSHARP: Language

class ToolInfo(_message.Message):
    __slots__ = ("name", "version", "config", "config_sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CONFIG_SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    config: str
    config_sha256: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., config: _Optional[str] = ..., config_sha256: _Optional[str] = ...) -> None: ...

class SourceFile(_message.Message):
    __slots__ = ("path", "content", "language")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    path: str
    content: bytes
    language: Language
    def __init__(self, path: _Optional[str] = ..., content: _Optional[bytes] = ..., language: _Optional[_Union[Language, str]] = ...) -> None: ...
