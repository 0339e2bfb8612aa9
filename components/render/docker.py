"""Docker on a host that runs compose services: the engine and its Compose plugin, and the network
their containers share.

Containers reach every service of their host by its name and stable port, as on the host itself
(``http://ai-server:3000`` where a host process uses ``http://127.0.0.1:3000``). Each name points
(``extra_hosts``) at the first address of the ``stackyard`` network, where the host's proxy serves
the stable ports too: a call goes to whichever slot is live, and a redeploy of the called service
switches it in the proxy's checked reload, as for public traffic. A name Docker's DNS served from
the containers themselves would take a new slot's containers in as soon as they started, before
they answer.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .layout import ServicePlan
from .quoting import sh, write_whole

NETWORK = "stackyard"
"""The Docker network every compose service's containers join."""
BRIDGE = "stackyard0"
"""Its bridge on the host: the interface the firewall lets containers in on."""


@dataclass(frozen=True)
class DockerPlan:
    """How Docker is installed on a host, and its containers' network."""

    packages: str = "distribution"
    """distribution (docker.io and the distribution's Compose v2 package) or docker (Docker's apt repository)."""
    subnet: str = "172.30.255.0/24"

    @property
    def gateway(self) -> str:
        """The host's address on the network: where containers reach the proxy's stable ports."""
        return str(next(ipaddress.ip_network(self.subnet).hosts()))


def install_script(plan: DockerPlan) -> str:
    """Bash (after provision.APT's ``apt_install``) that installs Docker Engine and the Compose plugin.

    ``distribution``: docker.io, and the Compose v2 package where the distribution has one (Ubuntu
    24.04: docker-compose-v2; Debian 13: docker-compose). Debian 12 has none: a plugin installed by
    hand (``/usr/libexec/docker/cli-plugins``) is used, or the step stops saying so. ``docker``:
    Docker's own repository for the host's distribution and release, signed by its key."""
    if plan.packages == "docker":
        return r"""if ! dpkg-query -W -f='${Status}' docker-ce 2>/dev/null | grep -q 'ok installed'; then
  if dpkg-query -W -f='${Status}' docker.io 2>/dev/null | grep -q 'ok installed'; then
    echo "stackyard: docker.io (the distribution's Docker) is installed; Docker's repository replaces it." >&2
    echo "Set docker.packages: distribution to keep it, or remove it first (containers stop)." >&2
    exit 1
  fi
  apt_install ca-certificates curl gnupg
  # shellcheck source=/dev/null
  . /etc/os-release
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL "https://download.docker.com/linux/$ID/gpg" | gpg --dearmor --yes -o /etc/apt/keyrings/docker.gpg
  chmod 0644 /etc/apt/keyrings/docker.gpg
  echo "deb [arch=$(dpkg --print-architecture) signed-by=/etc/apt/keyrings/docker.gpg]" \
    "https://download.docker.com/linux/$ID $VERSION_CODENAME stable" > /etc/apt/sources.list.d/docker.list
  apt-get -o DPkg::Lock::Timeout=300 update -qq
fi
apt_install docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin
"""
    return r"""# A Docker already installed (from any source) is used as it is.
if ! command -v dockerd >/dev/null; then
  apt_install docker.io
fi
if ! docker compose version >/dev/null 2>&1; then
  if apt-cache show docker-compose-v2 >/dev/null 2>&1; then
    apt_install docker-compose-v2
  elif apt-cache policy docker-compose 2>/dev/null | grep -Eq 'Candidate: 2\.'; then
    apt_install docker-compose
  fi
fi
if ! docker compose version >/dev/null 2>&1; then
  # shellcheck source=/dev/null
  . /etc/os-release
  echo "stackyard: $PRETTY_NAME has no Compose v2 package (its docker-compose is v1, which stackyard does not use)." >&2
  echo "Set docker.packages: docker (Docker's apt repository) for this host, or install the docker-compose" >&2
  echo "plugin into /usr/libexec/docker/cli-plugins yourself; then run pulumi up again." >&2
  exit 1
fi
"""


def network_script(plan: DockerPlan, *, ports: Sequence[int], proxy: str | None, ufw: bool) -> str:
    """Bash that starts Docker, creates the shared network, lets its containers reach the stable
    ``ports`` through the firewall, and starts the proxy after Docker at boot (the proxy listens on
    the network's address, which exists once Docker has made its bridge)."""
    lines = [
        "systemctl enable --now docker",
        f"if ! docker network inspect {NETWORK} >/dev/null 2>&1; then",
        f"  docker network create --driver bridge --subnet {sh(plan.subnet)} --gateway {plan.gateway} \\",
        f"    --opt com.docker.network.bridge.name={BRIDGE} {NETWORK} >/dev/null",
        "fi",
        f"subnet=$(docker network inspect --format '{{{{range .IPAM.Config}}}}{{{{.Subnet}}}}{{{{end}}}}' {NETWORK})",
        f'if [ "$subnet" != {sh(plan.subnet)} ]; then',
        f'  echo "stackyard: the Docker network {NETWORK} has subnet $subnet, and the stack says {plan.subnet}:" >&2',
        f'  echo "stop its containers and run docker network rm {NETWORK}, or set docker.subnet to $subnet" >&2',
        "  exit 1",
        "fi",
    ]
    if ufw:
        lines += [f"ufw allow in on {BRIDGE} to {plan.gateway} port {port} proto tcp "
                  "comment 'stackyard: containers to services' >/dev/null" for port in sorted(set(ports))]
    if proxy is not None:
        unit = "caddy" if proxy == "caddy" else "nginx"
        lines += [
            f"install -d -m 0755 /etc/systemd/system/{unit}.service.d",
            write_whole(f"/etc/systemd/system/{unit}.service.d/stackyard-docker.conf", "\n".join([
                "# Written by stackyard: the proxy listens on the containers' network, which Docker creates.",
                "[Unit]",
                "Wants=docker.service",
                "After=docker.service"])).rstrip("\n"),
            "systemctl daemon-reload",
        ]
    return "\n".join(lines) + "\n"


def extra_hosts(services: Sequence[ServicePlan], plan: DockerPlan) -> list[str]:
    """``name:address`` for every service of the host with a port: how containers find them."""
    return [f"{s.name}:{plan.gateway}" for s in sorted(services, key=lambda s: s.name) if s.port is not None]


def health_probe(url: str, timeout: int) -> str:
    """A shell command that GETs ``url`` with whichever of curl, wget, python3 or node the image has,
    true on a 2xx answer: Docker runs health checks inside the container, with its tools."""
    # The URL goes bare into the shell and into single-quoted Python and JavaScript inside a double-quoted
    # word: only characters none of the three reads specially (the model's http_path kind is narrower).
    if not re.fullmatch(r"https?://[A-Za-z0-9._~%/+=:@,\[\]-]+", url):
        raise ValueError(f"not a health URL the probe can quote: {url!r}")
    python = (f"import urllib.request; urllib.request.urlopen('{url}', timeout={timeout})")
    node = (f"require('http').get('{url}', r => process.exit(r.statusCode < 300 ? 0 : 1))"
            ".on('error', () => process.exit(1))")
    return (f"if command -v curl >/dev/null; then curl -fsS -o /dev/null --max-time {timeout} {url}; "
            f"elif command -v wget >/dev/null; then wget -q -O /dev/null -T {timeout} {url}; "
            f"elif command -v python3 >/dev/null; then python3 -c \"{python}\"; "
            f"elif command -v node >/dev/null; then node -e \"{node}\"; "
            "else echo 'no curl, wget, python3 or node in the image: set health.command' >&2; exit 1; fi")
