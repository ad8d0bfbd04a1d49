"""Trainer service settings (env prefix ``CODEEVAL_TRAINER_``, YAML section ``trainer``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from codeeval.kit.settings import ServiceSettings


class TrainerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CODEEVAL_TRAINER_", extra="forbid", validate_default=True)
    section: ClassVar[str] = "trainer"

    state_dir: Path = Field(Path("~/.local/share/codeeval/trainer").expanduser(),
                            description="Job store (jobs.sqlite) and one folder per job; survives restarts.")
    max_concurrent_jobs: int = Field(1, ge=1, description="Workers training at once; the rest wait QUEUED.")
    max_restarts: int = Field(2, ge=0, description="Restarts from the last checkpoint after a worker dies.")
    generator_addr: str | None = Field(None, description="Generator for rank checks and LoadAdapter; "
                                                         "default $CODEEVAL_GENERATOR_ADDR.")
    datasets_dir: Path | None = Field(None, description="Value of ${datasets} in configs; default "
                                                        "codeeval.kit.paths.datasets_dir().")
    poll_seconds: float = Field(0.25, gt=0, description="How often event logs are read for WatchJob and progress.")
