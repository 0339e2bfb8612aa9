"""Where stackyard keeps things on a host, and which ports each release slot of a service listens on.

Every service with a port keeps a stable *service port* that the proxy serves (publicly through
its hostnames, and on loopback for other services). Its instances never bind that port: a release
runs in one of two slots, blue or green, each with its own instance ports, so a new release can
start and pass its health check beside the running one before the proxy switches over.

The model's rules check a stack against this layout (a port whose slots would pass 65535, a path
that would fall inside a service's directory); the renderers write scripts and files by it.
"""

from __future__ import annotations

from dataclasses import dataclass

COLORS = ("blue", "green")
SLOT_OFFSET = {"blue": 1000, "green": 2000}
ACCESSORY_PORTS = {"mysql": 3306, "postgresql": 5432, "redis": 6379}
"""The port each accessory stackyard installs listens on, on loopback."""

WEB_PORTS = (80, 443)
"""What a proxy answers on, to the world: HTTP (the ACME challenge, the redirect) and HTTPS. ufw opens them on
every host; a created server's cloud firewall on a host with a proxy."""

MAX_INSTANCES = 16
SLOT_SPAN = max(SLOT_OFFSET.values()) + MAX_INSTANCES
"""The highest instance port above the service port."""


def slot_ports(port: int | None, color: str, instances: int) -> list[int]:
    """The ports a slot's instances listen on: none for a worker (no port)."""
    if port is None:
        return []
    return [port + SLOT_OFFSET[color] + i for i in range(instances)]


def held_ports(port: int | None, instances: int | None) -> list[int]:
    """The service port and every slot port a service holds on its host (instances as the stack file
    gives it, clamped so that a value the rules refuse still yields the ports it would take)."""
    count = max(1, min(instances or 1, MAX_INSTANCES))
    if port is None:
        return []
    return [port] + [p for color in COLORS for p in slot_ports(port, color, count)]


@dataclass(frozen=True)
class Paths:
    """Host paths; tests point them into a temporary directory."""

    srv: str = "/srv"
    etc: str = "/etc/stackyard"
    var: str = "/var/lib/stackyard"
    systemd: str = "/etc/systemd/system"
    certs: str = "/etc/letsencrypt/live"
    acme_root: str = "/var/www/acme"

    def app(self, name: str) -> str:
        return f"{self.srv}/{name}"

    def env_file(self, name: str) -> str:
        return f"{self.etc}/{name}.env"

    def release_env_file(self, name: str) -> str:
        """The service's env in systemd's EnvironmentFile form, whatever its runtime reads: the release
        phase runs with it (a transient unit), and its output is masked with its secret values."""
        return f"{self.etc}/{name}.release.env"

    def secret_file(self, name: str, relative: str) -> str:
        """Where a service's secret file lives on the host (``files:`` in the stack file): in a directory
        root owns and the service's group reads, never one its user could plant a link in."""
        return f"{self.etc}/{name}/files/{relative.lstrip('/')}"

    def deploy_key(self, name: str) -> str:
        """The service's deploy key (source.deployKey): root's, 0600, read by the deploy's git alone."""
        return f"{self.etc}/{name}/deploy-key"

    def known_hosts(self, name: str) -> str:
        """The host keys of the service's git server, pinned for its clones."""
        return f"{self.etc}/{name}/known_hosts"

    def slot(self, name: str, color: str) -> str:
        """A slot's own copy of the settings it was started with (``env``; compose: ``files/``), made by
        the deploy that starts it: a deploy that fails leaves the serving slot's copy as it was."""
        return f"{self.etc}/{name}/slots/{color}"

    def state(self, name: str) -> str:
        """The service user's HOME: build caches (uv, npm) and PM2's home. Not under /srv/<name>/shared,
        which is the app's data and what backups archive: caches and PM2's dump (it holds the env
        secrets) must not end up there."""
        return f"{self.var}/{name}"

    def pm2_home(self, name: str, color: str | None = None) -> str:
        """PM2's home (PM2_HOME) of one slot's daemon, or (``color`` None) the directory that holds them,
        which was the home of the one daemon of both slots stackyard ran before each slot had its own."""
        return f"{self.state(name)}/pm2" + (f"/{color}" if color else "")

    @property
    def certificates_lock(self) -> str:
        """Held by the proxy step from a certificate's set-aside until certbot is done, and by a deploy's
        reload while it puts a set-aside one back: the two never meet over one live directory."""
        return f"{self.var}/certificates.lock"

    @property
    def owner(self) -> str:
        """Which stack provisions the server (<project>/<stack>), written by the base step: the pre-flight of
        any other stack stops."""
        return f"{self.etc}/owner"

    @property
    def set_aside(self) -> str:
        """Where a stackyard certificate (self-signed, or a stand-in) waits while certbot makes its own."""
        return f"{self.etc}/self-signed"

    def upstream(self, name: str, proxy: str) -> str:
        return f"{self.etc}/upstreams/{name}.{proxy}"
