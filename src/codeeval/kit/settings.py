"""Typed settings with defaults and help, loaded from (lowest to highest precedence) defaults, a
YAML file, environment variables and explicit overrides (command-line flags).

Every service subclasses :class:`ServiceSettings` with its own ``env_prefix``
(``CODEEVAL_SANDBOX_``, ...) and its own fields. The YAML file may hold one section per service
(``sandbox: {...}``) or be flat. The resolved settings object is what results record.
"""

from __future__ import annotations

import contextvars
import os
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

_yaml_data: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("_yaml_data")


class _YamlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_yaml_data.get({}))


class ServiceSettings(BaseSettings):
    """Settings every service shares: network, security, limits, logging."""

    model_config = SettingsConfigDict(env_prefix="CODEEVAL_", extra="forbid", validate_default=True)
    section: ClassVar[str] = ""

    host: str = Field("127.0.0.1", description="Interface to listen on; 0.0.0.0 inside a pod.")
    port: int = Field(0, ge=0, le=65535, description="gRPC port; 0 picks a free one (tests, `up`).")
    metrics_port: int | None = Field(None, ge=0, le=65535, description="Prometheus /metrics port; unset disables it.")
    auth_token: SecretStr | None = Field(None, description="Bearer token clients must send; unset disables auth.")
    auth_token_file: Path | None = Field(None, description="File holding the bearer token (Kubernetes secret).")
    tls_cert_file: Path | None = Field(None, description="Server certificate (PEM); enables TLS with tls_key_file.")
    tls_key_file: Path | None = Field(None, description="Server private key (PEM).")
    tls_client_ca_file: Path | None = Field(None, description="CA for client certificates; set for mutual TLS.")
    max_request_bytes: int = Field(16 * 1024 * 1024, gt=0, description="Larger requests get RESOURCE_EXHAUSTED.")
    max_response_bytes: int = Field(64 * 1024 * 1024, gt=0, description="Largest single response message.")
    shutdown_grace_seconds: float = Field(10.0, ge=0, description="In-flight calls get this long on SIGTERM.")
    health_recheck_seconds: float = Field(15.0, gt=0, description="How often readiness is re-checked.")
    compute_threads: int = Field(1, ge=1, description="Threads per compute library; 1 suits 2-core hosts.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = Field("json", description="json for machines, text for people.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls), file_secret_settings)

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any):  # type: ignore[no-untyped-def]
        """Resolve settings: defaults < YAML (``config_file`` or ``$CODEEVAL_CONFIG``) < env < overrides."""
        path = config_file or os.environ.get("CODEEVAL_CONFIG")
        data: dict[str, Any] = {}
        if path:
            loaded = yaml.safe_load(Path(path).read_text()) or {}
            if not isinstance(loaded, dict):
                raise ValueError(f"{path}: expected a mapping at the top level")
            data = loaded.get(cls.section, loaded) if cls.section and cls.section in loaded else loaded
            data = {k: v for k, v in data.items() if k in cls.model_fields}
        token = _yaml_data.set(data)
        try:
            return cls(**{k: v for k, v in overrides.items() if v is not None})
        finally:
            _yaml_data.reset(token)

    def resolved_auth_token(self) -> str | None:
        """The bearer token from ``auth_token`` or ``auth_token_file``, or None when auth is off."""
        if self.auth_token is not None:
            return self.auth_token.get_secret_value()
        if self.auth_token_file is not None:
            return self.auth_token_file.read_text().strip()
        return None

    def record(self) -> dict[str, Any]:
        """The settings as recorded with results: secrets and file contents left out."""
        return self.model_dump(mode="json", exclude={"auth_token"})
