"""Settings of the sandbox service (env prefix ``CODEEVAL_SANDBOX_``, YAML section ``sandbox``)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from codeeval.kit.settings import ServiceSettings
from codeeval.sandbox.model import Limits


class SandboxSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CODEEVAL_SANDBOX_", extra="forbid", validate_default=True)
    section = "sandbox"

    backend: Literal["bubblewrap", "docker", "unshare"] = Field(
        "bubblewrap", description="Isolation backend: bubblewrap (no daemon, fastest), docker (Docker SDK) or "
                                  "unshare (namespaces and a chroot jail, no mounts: for gVisor pods).")
    max_concurrency: int = Field(max(1, os.cpu_count() or 1), ge=1, le=256,
                                 description="Sandboxes running at once; one per core suits CPU-bound tests.")
    max_queue: int = Field(4096, ge=0,
                           description="Programs waiting beyond max_concurrency; more is RESOURCE_EXHAUSTED.")
    max_batch_size: int = Field(1024, ge=1, description="Programs in one ExecuteBatch request.")
    max_source_bytes: int = Field(256 * 1024, gt=0, description="Largest source, test or stdin field.")
    max_extra_files: int = Field(16, ge=0, description="Extra files per program.")
    dedupe_batch: bool = Field(True, description="Run identical programs of one batch once and report the "
                                                 "result for each copy (only the ids differ).")
    retries: int = Field(2, ge=0, le=5, description="Re-runs of a SANDBOX_ERROR (never counted as a model failure).")

    default_wall_time_ms: int = Field(10_000, gt=0, description="Wall-time limit when a request leaves it 0.")
    default_cpu_time_ms: int = Field(10_000, gt=0, description="CPU-time limit (RLIMIT_CPU) when left 0.")
    default_memory_bytes: int = Field(512 << 20, gt=0, description="Memory limit (cgroup, no swap) when left 0.")
    default_output_bytes: int = Field(64 << 10, gt=0, description="Bytes of stdout and of stderr kept, each.")
    default_max_processes: int = Field(64, gt=0, description="Processes+threads (pids cgroup) when left 0.")
    default_max_file_bytes: int = Field(16 << 20, gt=0, description="Largest file a program may write (RLIMIT_FSIZE).")
    max_wall_time_ms: int = Field(120_000, gt=0, description="Requests above this are INVALID_ARGUMENT.")
    max_cpu_time_ms: int = Field(120_000, gt=0, description="Maximum CPU-time limit.")
    max_memory_bytes: int = Field(4 << 30, gt=0, description="Maximum memory limit.")
    max_output_bytes: int = Field(8 << 20, gt=0, description="Maximum bytes kept per stream.")
    max_max_processes: int = Field(1024, gt=0, description="Maximum processes limit.")
    max_max_file_bytes: int = Field(1 << 30, gt=0, description="Maximum file-size limit.")
    output_hard_factor: int = Field(16, ge=1, description="A run whose stream passes factor x output_bytes "
                                                          "(at least 1 MiB) is stopped: OUTPUT_LIMIT_EXCEEDED.")
    workspace_dir: str = Field("", description="Parent of the per-process workspace (run files, staged trusted "
                                               "files); empty: the system temp dir. Every directory above it "
                                               "must be searchable by the sandbox uids.")
    work_dir_bytes: int = Field(64 << 20, gt=0, description="Size of the tmpfs work dir of each run.")

    calibration_factor: float = Field(5.0, gt=0, description="Default wall limit = factor x the reference's time.")
    calibration_floor_ms: int = Field(2_000, gt=0, description="Default lower bound of a calibrated wall limit.")

    uid_base: int = Field(61000, ge=1000, description="First host uid of the sandbox slots (when run as root). "
                                                      "Each instance on a host claims its own block of 2000 uids "
                                                      "from here (a lock file per block in uid_lock_dir).")
    uid_blocks: int = Field(32, ge=1, le=1000, description="uid blocks instances on one host may claim.")
    uid_lock_dir: str = Field("/run/codeeval-sandbox", description="Where instances claim uid blocks (root only); "
                                                                 "must be shared by every instance on the host.")
    seccomp: bool = Field(True, description="Load the seccomp filter (needs Debian's python3-seccomp).")
    cgroups: bool = Field(True, description="Per-run memory/pids cgroups where the cgroup tree is writable.")
    python_zygote: bool = Field(True, description="bubblewrap as root: judged Python runs are forked by a warm "
                                                  "zygote per slot into fresh namespaces (no bwrap or python3 "
                                                  "start per run); elsewhere ignored. Off: a bwrap per run.")

    jail_dir: str = Field("/jail", description="unshare backend: the chroot holding the toolchains and a writable "
                                               "tmp/ (deploy/sandbox/Dockerfile builds it).")

    docker_image: str = Field("codeeval/sandbox-runtime:bookworm", description="Execution image (docker backend).")
    docker_runtime: str = Field("", description="Docker runtime, e.g. runsc (gVisor, ptrace platform only).")
    docker_pool_size: int = Field(2, ge=0, description="Warm containers kept ready (docker backend).")

    def default_limits(self) -> Limits:
        return Limits(self.default_wall_time_ms, self.default_cpu_time_ms, self.default_memory_bytes,
                      self.default_output_bytes, self.default_max_processes, self.default_max_file_bytes)

    def max_limits(self) -> Limits:
        return Limits(self.max_wall_time_ms, self.max_cpu_time_ms, self.max_memory_bytes, self.max_output_bytes,
                      self.max_max_processes, self.max_max_file_bytes)

    def output_hard_bytes(self, output_bytes: int) -> int:
        return max(1 << 20, output_bytes * self.output_hard_factor)
