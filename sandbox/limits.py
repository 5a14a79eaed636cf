"""Resource limits for sandbox jobs: safe defaults, every one configurable."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Limits:
    """Per-job limits, enforced from outside the job (docs/THREAT_MODEL.md, principle 2)."""

    wall_s: float = 10.0
    """Wall-clock budget of the whole job; on expiry everything it started is SIGKILLed."""
    memory_mb: int = 1024
    """Address-space limit of every process of the job (judge and each candidate)."""
    output_bytes: int = 64 * 1024
    """Bytes of stdout/stderr kept from the judge; more ends the job as ``output_limit``."""
    nproc: int = 64
    """Processes per candidate uid (fork bombs stop here, before the container's pids limit)."""
    file_size_mb: int = 16
    """Largest file a job may write (RLIMIT_FSIZE)."""

    def to_json(self) -> dict:
        return asdict(self)

    def with_(self, **changes) -> Limits:
        return replace(self, **changes)

    def __post_init__(self) -> None:
        for name in ("wall_s", "memory_mb", "output_bytes", "nproc", "file_size_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class ContainerLimits:
    """Limits of one pool container (the outer bound around all of its jobs)."""

    memory_mb: int = 1536
    """Container memory limit; swap is set equal, so there is no swap."""
    pids: int = 128
    """pids cgroup limit for the whole container."""
    cpus: float = 1.0
    """CPU quota in cores."""
    scratch_mb: int = 64
    """Size of the writable tmpfs (``/scratch``) shared by the container's jobs."""
    shm_mb: int = 16
    """Size of ``/dev/shm``."""
    sysv_shm_mb: int = 16
    """Most memory all SysV shared-memory segments of the container may hold together (kernel
    ``shmall``/``shmmax`` of its private IPC namespace); segments also vanish once no process
    uses them (``shm_rmid_forced``), so none can outlive the processes of a job."""
    max_jobs: int = 500
    """Jobs served before the container is replaced by a fresh one."""
