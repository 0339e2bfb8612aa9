"""A service as the renderers need it (ServicePlan), made from the model's Service.

Where things live on a host and the slot ports are the model's (components/model/host_layout.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model.host_layout import Paths, slot_ports
from ..model.topology import holds_secret


@dataclass(frozen=True)
class ServicePlan:
    """A service as the renderers need it: names, ports and steps, no secret values."""

    name: str
    runtime: str
    repo: str
    ref: str
    command: str | None = None
    language: str = "other"
    install: tuple[str, ...] = ()
    release: tuple[str, ...] = ()
    """The release phase's commands (run by deploy.sh before the release's processes start)."""
    secret_env_keys: tuple[str, ...] = ()
    """The env keys whose values are secrets: masked in the release phase's output."""
    port: int | None = None
    container_port: int | None = None
    build_context: str = "."
    """compose: the image's build context, relative to the release."""
    dockerfile: str = "Dockerfile"
    """compose: relative to the build context."""
    health_command: str | None = None
    """compose: Docker's health check command in the container (None: an HTTP GET of health_path)."""
    instances: int = 1
    env_keys: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    health_path: str | None = "/health"
    health_interval: int = 2
    health_timeout: int = 5
    health_retries: int = 15
    hostnames: tuple[str, ...] = ()
    keep_releases: int = 5
    known_hosts: tuple[str, ...] = ()
    """The git server's pinned host keys (known_hosts lines); empty: the repository is not cloned over ssh."""
    deploy_key: bool = False
    """The host clones with the service's deploy key."""
    replaced_port: int | None = None
    """Loopback port of the process serving the service before stackyard (the proxy's first target)."""
    replaced_pm2: tuple[str, ...] = ()
    """PM2 processes serving the service before stackyard (`replaces.pm2`), retired once it serves."""
    replaced_pm2_home: str = "/root/.pm2"
    """Their PM2_HOME (`replaces.pm2Home`)."""
    replaced_units: tuple[str, ...] = ()
    """systemd units serving it before stackyard (`replaces.systemd`), stopped and disabled once it serves."""
    max_body_size: str = "10MB"
    read_timeout: int = 60
    rate_limit: tuple[int, int] | None = None
    """(requests, window in seconds) per client address at the proxy."""
    log_files: tuple[str, ...] = ()
    log_rotate: str = "daily"
    log_size: str = "100MB"
    log_keep: int = 14
    watchdog_paths: tuple[str, ...] = ()
    """Paths the watchdog checks on every serving instance; empty: no watchdog."""
    watchdog_interval: int = 30
    watchdog_failures: int = 3
    watchdog_restarts: int = 3
    paths: Paths = field(default_factory=Paths)

    @property
    def user(self) -> str:
        """The dedicated system user the service runs as."""
        return f"svc-{self.name}"[:32]

    @property
    def git_ssh(self) -> str:
        """GIT_SSH_COMMAND of the deploy's git: its deploy key and pinned host keys only, never a prompt."""
        if not self.known_hosts:
            return ""
        key = f"-i {self.paths.deploy_key(self.name)} -o IdentitiesOnly=yes " if self.deploy_key else ""
        return (f"ssh {key}-o UserKnownHostsFile={self.paths.known_hosts(self.name)} -o StrictHostKeyChecking=yes "
                "-o BatchMode=yes")

    @property
    def unit(self) -> str:
        return f"stackyard-{self.name}"

    @property
    def watchdog_path(self) -> str:
        """The script the watchdog's service runs: the one of the settings that serve (render/watchdog.py)."""
        return f"{self.paths.app(self.name)}/watchdog"

    @property
    def staged_watchdog(self) -> str:
        """Where the setup step writes the script of the stack's settings, for the deploy to put in place."""
        return self.watchdog_path + ".next"

    @property
    def watchdog_unit(self) -> str:
        """The watchdog's service and timer (``.service``, ``.timer``)."""
        return f"{self.unit}-watchdog"

    def slot_ports(self, color: str) -> list[int]:
        return slot_ports(self.port, color, self.instances)

    @property
    def log_directories(self) -> list[str]:
        """The directories of the service's own log files (under /var/log/<service>/, the model says)."""
        return sorted({path.rsplit("/", 1)[0] for path in self.log_files})

    def instances_of(self, color: str) -> list[str]:
        """systemd instance names (ports) or, for workers, the color itself."""
        return [str(p) for p in self.slot_ports(color)] or [color]


def plan_from_model(name: str, service, paths: Paths = Paths()) -> ServicePlan:
    """The renderers' view of a model Service (components.model.topology.Service)."""
    health = service.health if service.port is not None else None
    return ServicePlan(
        name=name,
        runtime=service.runtime,
        repo=service.source.repo,
        **source_of(service.source),
        ref=service.source.ref,
        command=service.command,
        language=service.language,
        install=tuple(service.install),
        release=tuple(service.release),
        secret_env_keys=tuple(sorted(key for key, value in service.env.items() if holds_secret(value))),
        port=service.port,
        container_port=service.container_port,
        **build_of(service.build),
        health_command=health.command if health else None,
        instances=service.instances,
        env_keys=tuple(sorted(service.env)),
        files=tuple(sorted(service.files)),
        health_path=health.path if health else None,
        health_interval=health.interval if health else 2,
        health_timeout=health.timeout if health else 5,
        health_retries=health.retries if health else 15,
        hostnames=tuple(service.hostnames),
        **replaced_of(service.replaces),
        **watchdog_of(service.watchdog, health),
        **limits_of(service.limits),
        **logs_of(service.logs),
        keep_releases=service.keep_releases,
        paths=paths,
    )


GITHUB_KNOWN_HOSTS = ("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",)
"""GitHub's published ed25519 host key (docs.github.com: GitHub's SSH key fingerprints)."""


def source_of(source) -> dict:
    """The ServicePlan fields of a model Source: how the host's git reaches a private repository."""
    known = tuple(source.known_hosts or ())
    if not known and source.deploy_key is not None and "github.com" in source.repo:
        known = GITHUB_KNOWN_HOSTS
    return {"known_hosts": known, "deploy_key": source.deploy_key is not None}


def build_of(build) -> dict:
    """The ServicePlan fields of a model ImageBuild (compose)."""
    if build is None:
        return {}
    return {"build_context": build.context, "dockerfile": build.dockerfile}


def replaced_of(replaces) -> dict:
    """The ServicePlan fields of a model Replaces (what serves the service today, outside stackyard)."""
    if replaces is None:
        return {}
    return {"replaced_port": replaces.listen, "replaced_pm2": tuple(replaces.pm2),
            "replaced_pm2_home": replaces.pm2_home, "replaced_units": tuple(replaces.systemd)}


def watchdog_of(watchdog, health) -> dict:
    """The ServicePlan fields of a model Watchdog; none without a health check (workers, health: null)."""
    if watchdog is None or not watchdog.enabled or health is None:
        return {}
    return {"watchdog_paths": tuple(watchdog.paths or [health.path]), "watchdog_interval": watchdog.interval,
            "watchdog_failures": watchdog.failures, "watchdog_restarts": watchdog.restarts}


def limits_of(limits) -> dict:
    """The ServicePlan fields of a model Limits."""
    if limits is None:
        return {}
    rate = limits.rate_limit
    return {"max_body_size": limits.max_body_size, "read_timeout": limits.read_timeout,
            "rate_limit": (rate.requests, rate.window) if rate is not None else None}


def logs_of(logs) -> dict:
    """The ServicePlan fields of a model Logs."""
    if logs is None:
        return {}
    return {"log_files": tuple(logs.files), "log_rotate": logs.rotate, "log_size": logs.size, "log_keep": logs.keep}
