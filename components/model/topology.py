"""The topology a stack file describes: systems, their hosts, DNS, frontends and CI secrets.

Each field's doc string is the reference for its stack-file key (camelCase of the field name).
Nothing here knows about Pulumi resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from . import connections, formats, kinds
from .host_layout import WEB_PORTS
from .parse import Tagged, spec


class Reports(Protocol):
    """Where a model class's own checks report a mistake (the rules' Findings)."""

    def fail(self, path: str, message: str) -> None: ...

# --- values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretRef:
    """``{secret: openaiApiKey}``: the value of the encrypted stack config key ``stackyard:openaiApiKey``."""

    secret: str = spec("name of a stackyard config key set with `pulumi config set --secret`",
                       kind=kinds.SECRET_NAME)


@dataclass(frozen=True)
class RecordRef:
    """``{record: api.mehko.ai, format: "https://{}"}``: the hostname of a DNS record of this system."""

    record: str = spec("full hostname of a record in this system's dns.records", kind=kinds.HOSTNAME)
    format: str = spec("text around the hostname, with {} where it goes", default="{}", kind=kinds.TEMPLATE)


@dataclass(frozen=True)
class HostRef:
    """``{host: api}``: the public address of a host of this system."""

    host: str = spec("name of a host in this system's hosts", kind=kinds.NAME)
    family: Literal["ipv4", "ipv6"] = spec("which address", default="ipv4")
    format: str = spec("text around the address, with {} where it goes", default="{}", kind=kinds.TEMPLATE)


@dataclass(frozen=True)
class AccessoryRef:
    """``{accessory: postgresql, output: url}``: how a service reaches an accessory on its host. The
    password and the URL are secrets; the URL percent-encodes its user, password and database, so a
    password holding ``@:/?#`` is read back as it is (``postgresql://app:p%40ss@127.0.0.1:5432/app``,
    ``mysql://...:3306/...``, ``redis://:p%40ss@127.0.0.1:6379/0``)."""

    accessory: Literal["mysql", "redis", "postgresql"] = spec("mysql, redis or postgresql")
    output: connections.Output = spec(
        "password (the user's; redis: `requirepass`), url, host (127.0.0.1: every accessory listens on "
        "loopback), port (mysql 3306, postgresql 5432, redis 6379), user or database (as the accessory "
        "names them; redis has neither)", default="password")


@dataclass(frozen=True)
class FrontendRef:
    """``{frontend: web, output: projectId}``: an ID of a Vercel frontend of this system, as its project
    has it (seed 004's `VERCEL_PROJECT_ID` and `VERCEL_ORG_ID` Actions secrets, never typed by hand)."""

    frontend: str = spec("name of a Vercel frontend in this system's frontends", kind=kinds.NAME)
    output: Literal["projectId", "teamId"] = spec("projectId (prj_...) or teamId (team_..., what Vercel's CLI "
                                                  "calls the org ID)")


Value = str | SecretRef | RecordRef | HostRef | AccessoryRef | FrontendRef
"""A plain string, or a reference resolved at deploy time."""


def holds_secret(value: object) -> bool:
    """Whether a value resolves to a secret: a stack secret, or an accessory's password or URL."""
    return isinstance(value, SecretRef) or (isinstance(value, AccessoryRef)
                                            and value.output in connections.SECRET_OUTPUTS)


# --- hosts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """How stackyard (and its operators) reach a host over SSH."""

    ssh_port: int = spec(
        "the port sshd answers on: stackyard connects there from its first step and keeps sshd there (a "
        "created server's is set when it is made). Moving a running server's SSH to another port is not "
        "something `up` does yet: it would connect on the new port before sshd had moved, and stop there "
        "having changed nothing; move it by hand, then set it here", default=22, check=formats.port)
    ssh_allow_from: list[str] = spec(
        "networks allowed to reach SSH (CIDR), through the cloud firewall and, where `ufw: true`, ufw (on an "
        "existing server, ufw is the only one; there a list holding 0.0.0.0/0 or ::/0 opens SSH to all, and "
        "any other list deletes ufw's rules that open SSH to all, such as `ufw allow OpenSSH`); defaults to "
        "stackyard:sshAllowFrom. stackyard connects over SSH itself: the list holds the network it connects "
        "from, of the family it dials the host at (a created server: IPv4), and IPv4 networks written as IPv4",
        default=[], kind=kinds.CIDR)
    private_key: SecretRef | None = spec(
        "secret holding the private key stackyard connects with (OpenSSH PEM): required on every host "
        "stackyard provisions (all, unless `provision: false`)", default=None)
    host_key: str | None = spec(
        "the host's public ed25519 host key, pinned for every connection: required for a server that runs "
        "already (existing, or adopt); `scripts/host-key <address>` prints it and its fingerprint, to compare "
        "with the server's own. A server stackyard creates gets a key stackyard makes and pins: leave it out "
        "there. Keep it on a server once adopted when its `adopt:` goes: without either, the server would be "
        "taken for one stackyard created, and the key it pinned would be one the server never had",
        default=None, kind=kinds.HOST_KEY)


@dataclass(frozen=True)
class Acme:
    """Where the proxy gets its certificates (`tls: letsencrypt`): any ACME certificate authority."""

    directory: str = spec(
        "the CA's ACME directory: letsencrypt (production), letsencrypt-staging (untrusted certificates, "
        "much higher rate limits: for trying a stack out) or the https URL of another CA's, e.g. a private "
        "one (step-ca, Pebble). Changing it gets every hostname a certificate from the new CA",
        default="letsencrypt", kind=kinds.ACME_DIRECTORY)
    ca_root: str | None = spec(
        "PEM certificate(s) the directory's own HTTPS certificate chains to, when that is not a publicly "
        "trusted one (a private CA): the proxy's ACME client trusts them for this directory, nothing else "
        "on the host does", default=None, kind=kinds.PEM_CERTIFICATES)


@dataclass(frozen=True)
class Proxy:
    """The reverse proxy in front of the host's services, terminating TLS."""

    kind: Literal["caddy", "nginx"] = spec("caddy or nginx")
    email: str | None = spec("ACME account email (the CA's expiry notices)", default=None, kind=kinds.EMAIL)
    tls: Literal["letsencrypt", "internal"] = spec(
        "letsencrypt for public hosts: certificates from an ACME CA (`acme`, Let's Encrypt by default), "
        "each hostname's DNS pointing at the host and port 80 open; internal for a local CA (test VMs, no "
        "public DNS)", default="letsencrypt")
    acme: Acme = spec("the ACME CA certificates come from (tls: letsencrypt)", default=Acme())
    security_headers: bool = spec("send HSTS, nosniff, frame-deny, XSS-protection and referrer headers",
                                  default=True)
    content_security_policy: str | None = spec(
        "Content-Security-Policy header sent with every answer, e.g. \"default-src 'self'\" (with "
        "securityHeaders)", default=None, kind=kinds.HEADER)
    static: dict[str, str] = spec("hostname -> directory served as static files, one of their own (never "
                                  "near a directory a service writes, nor /etc, /root, keys or dumps); files "
                                  "under /assets/ (hashed build output) are cached by browsers for a year",
                                  default={},
                                  kind=kinds.ABSOLUTE_PATH, keys=kinds.HOSTNAME)
    replaces: list[str] = spec(
        "sites of an nginx already serving these hostnames (file names in sites-enabled or conf.d), or "
        "`Caddyfile` for a Caddy: disabled in the same checked reload that enables stackyard's site; "
        "their certificates under /etc/letsencrypt/live/<hostname> are reused", default=[],
        kind=kinds.PROCESS_NAME)


@dataclass(frozen=True)
class Accessory:
    """A database or cache installed on the host, listening on loopback only: mysql (MariaDB) on
    127.0.0.1:3306, postgresql on 127.0.0.1:5432, redis on 127.0.0.1:6379 (an existing server must listen
    there). Neither a user nor a database is made unless named; redis has one password and no user. A
    service reads each with ``{accessory: <kind>, output: url|password|host|port|user|database}``."""

    database: str | None = spec("database to create (mysql, postgresql)", default=None, kind=kinds.DATABASE_NAME)
    user: str | None = spec("user to create, with a generated password kept as a Pulumi secret", default=None,
                            kind=kinds.DATABASE_NAME)
    existing: bool = spec(
        "a server already running on the host (MySQL or MariaDB for mysql), taken over as it is: nothing "
        "installed, no setting, user or password changed; its database and user must exist", default=False)
    password: SecretRef | None = spec(
        "secret holding the user's password (redis: the server's `requirepass`), used as it is instead of a "
        "generated one. Required for an existing server whose password services use. Changing it sets the "
        "new password on a server stackyard installed; an existing server's is never changed", default=None)


@dataclass(frozen=True)
class Offsite:
    """Copies of every dump in S3-compatible object storage (Hetzner Object Storage, DigitalOcean
    Spaces, ...), encrypted on the host by restic before they leave it."""

    repository: str = spec("restic repository, e.g. s3:https://fsn1.your-objectstorage.com/<bucket>/<host>",
                           kind=kinds.RESTIC_REPOSITORY)
    access_key: SecretRef = spec("secret holding the S3 access key ID")
    secret_key: SecretRef = spec("secret holding the S3 secret key")
    password: SecretRef = spec("secret holding the password restic encrypts with; keep a copy outside the "
                               "stack too: without it the copies cannot be read")
    keep: int | None = spec("copies kept there (default: backups.keep)", default=None)


@dataclass(frozen=True)
class Backups:
    """Dumps of the host's databases and directories from cron, kept a fixed number deep, on the host
    and, with `offsite`, in object storage. `stackyard-restore` on the host puts one back."""

    keep: int = spec("how many dumps to keep", default=7)
    schedule: str = spec("cron schedule (five fields)", default="17 3 * * *", kind=kinds.CRON)
    paths: list[str] = spec("directories to archive besides the database dumps (caches left out)", default=[],
                            kind=kinds.ABSOLUTE_PATH)
    directory: str = spec("where dumps are written: a directory of their own that only root writes "
                          "(made 0700 when missing, used as it is when there)", default="/var/backups/stackyard",
                          kind=kinds.ABSOLUTE_PATH)
    offsite: Offsite | None = spec("encrypted copies in S3-compatible object storage (restic)", default=None)


@dataclass(frozen=True)
class Docker:
    """Docker Engine and its Compose plugin, on hosts that run compose services, and the network their
    containers share. Containers reach every service of the host at `http://<service>:<port>`: the
    proxy serves its stable port on the network's first address, whichever slot is live."""

    packages: Literal["distribution", "docker"] = spec(
        "distribution: docker.io and the distribution's Compose v2 package (Ubuntu 24.04; Debian 12 has "
        "none: use docker, or install the plugin yourself); docker: Docker's apt repository (docker-ce, "
        "docker-compose-plugin) for Debian and Ubuntu. A Docker already installed is used as it is",
        default="distribution")
    subnet: str = spec("IPv4 subnet of the containers' network (bridge stackyard0); pick one the host's "
                       "own networks do not use", default="172.30.255.0/24", kind=kinds.CIDR)


@dataclass(frozen=True, kw_only=True)
class HostSetup:
    """What stackyard installs on any host it provisions over SSH."""

    proxy: Proxy | None = spec("reverse proxy with automatic TLS", default=None)
    ufw: bool = spec("host firewall: deny incoming, allow SSH (from access.sshAllowFrom), 80, 443 and openPorts",
                     default=True)
    accessories: dict[Literal["mysql", "redis", "postgresql"], Accessory] = spec(
        "databases and caches on the host, bound to loopback", default={})
    backups: Backups | None = spec("cron dumps with retention", default=None)
    docker: Docker = spec("Docker and the containers' network (hosts with compose services)", default=Docker())
    provision: bool = spec("provision the host over SSH (packages, sshd hardening, ufw, runtimes)", default=True)
    metadata_guard: bool = spec(
        "only root may ask the cloud's metadata service (169.254.169.254), which holds the server's user data; "
        "services and containers are refused. false leaves it open to every user, for an agent of the "
        "operator's that needs it (DigitalOcean's do-agent); the pre-flight names such agents", default=True)
    open_ports: list[int] | None = spec(
        "TCP ports opened to the world besides SSH: in ufw (which opens 80 and 443 itself), and in a created "
        "server's cloud firewall. Left out, that firewall opens 80 and 443 on a host with a proxy, and nothing "
        "else; a list is taken as written, and on a proxy host it must hold 80 and 443. Taking over a server, "
        "list what else serves on it: ufw, which stackyard turns on, closes every port it does not open",
        default=None, check=formats.port)

    @property
    def public_ports(self) -> list[int]:
        """What a created server's cloud firewall opens besides SSH: openPorts, or, left out, 80 and 443 on a
        host with a proxy (its sites and the ACME challenge)."""
        if self.open_ports is not None:
            return list(self.open_ports)
        return list(WEB_PORTS) if self.proxy is not None else []

    formerly: list[str] = spec(
        "names this host had before in its system: its server and everything on it keep their state under the "
        "new name (Pulumi aliases), so a rename stops nothing", default=[], kind=kinds.NAME)


@dataclass(frozen=True, kw_only=True)
class CreatedHost(HostSetup):
    """Keys shared by the servers stackyard creates (hetzner and digitalocean)."""

    ssh_keys: list[str] = spec("extra OpenSSH public keys for the deploy user (besides stackyard:sshKeys)",
                               default=[], kind=kinds.SSH_PUBLIC_KEY)
    deploy_user: str = spec("non-root user cloud-init creates with the SSH keys, a passwordless sudoer: "
                            "never root, a service's user (svc-<name>) or a daemon's system account",
                            default="deploy", kind=kinds.DEPLOY_USER)
    ipv6: bool = spec("give the server a public IPv6 address", default=True)
    snapshots: bool = spec("enable the provider's backups (Hetzner daily, DigitalOcean weekly)", default=False)
    access: Access = spec("SSH access", default=Access())

    def check(self, rules: Reports, path: str) -> None:
        """What this cloud's fields may not say together: nothing, unless its class says otherwise."""


@dataclass(frozen=True)
class HetznerAdoption:
    """IDs of a running Hetzner server and what belongs to it, taken into the state as they are
    (`hcloud server list`, `hcloud firewall list`, `hcloud primary-ip list`, or the Cloud Console URL)."""

    server: str = spec("the server's ID", kind=kinds.NUMERIC_ID)
    firewall: str | None = spec("its firewall's ID (the attachment is adopted with it)", default=None,
                                kind=kinds.NUMERIC_ID)
    primary_ip: str | None = spec("its Primary IP's ID (with primaryIp: true)", default=None,
                                  kind=kinds.NUMERIC_ID)


@dataclass(frozen=True)
class DigitalOceanAdoption:
    """IDs of a running Droplet and what belongs to it, taken into the state as they are
    (`doctl compute droplet list`, `doctl compute firewall list`, `doctl compute reserved-ip list`)."""

    droplet: str = spec("the Droplet's ID", kind=kinds.NUMERIC_ID)
    firewall: str | None = spec("its firewall's ID (a UUID)", default=None, kind=kinds.UUID)
    reserved_ip: str | None = spec("its Reserved IP, the address itself (with reservedIp: true)", default=None,
                                   kind=kinds.IPV4)


@dataclass(frozen=True, kw_only=True)
class HetznerHost(CreatedHost):
    """A server created in Hetzner Cloud."""

    provider: Literal["hetzner"] = spec("hetzner")
    server_type: str = spec("Hetzner server type, e.g. cx22", kind=kinds.SLUG)
    location: str = spec("Hetzner location, e.g. fsn1, nbg1, hel1, ash", kind=kinds.SLUG)
    image: str = spec("OS image; while protect is on, a change is refused rather than rebuilding the server",
                      default="ubuntu-24.04",
                      kind=kinds.SLUG)
    primary_ip: bool = spec("keep the IPv4 address in a Primary IP that outlives the server", default=False)
    allow_resize: bool = spec(
        "apply a change of serverType: Hetzner resizes a server powered off hard (its databases with it), and "
        "leaves it off if it refuses the type; without this, a running server keeps its type and the preview "
        "warns", default=False)
    adopt: HetznerAdoption | None = spec("a server that already runs: its IDs, taken into the state instead of "
                                         "creating a new one", default=None)

    def summary(self) -> str:
        """One line on what the server is (the diagram's)."""
        return f"Hetzner {self.server_type}, {self.location}" + (", Primary IP" if self.primary_ip else "")

    def check(self, rules: Reports, path: str) -> None:
        """What this cloud's fields may not say together."""
        if self.adopt is not None and self.adopt.primary_ip and not self.primary_ip:
            rules.fail(f"{path}.adopt.primaryIp", "the host keeps no Primary IP (primaryIp: false): set "
                                                  "primaryIp: true to adopt it, or leave it out")


@dataclass(frozen=True, kw_only=True)
class DigitalOceanHost(CreatedHost):
    """A Droplet created in DigitalOcean."""

    provider: Literal["digitalocean"] = spec("digitalocean")
    size: str = spec("Droplet size slug, e.g. s-2vcpu-4gb", kind=kinds.SLUG)
    region: str = spec("DigitalOcean region, e.g. fra1, ams3, nyc3", kind=kinds.SLUG)
    image: str = spec("OS image slug; while protect is on, a change is refused rather than rebuilding the Droplet",
                      default="ubuntu-24-04-x64", kind=kinds.SLUG)
    reserved_ip: bool = spec("keep the IPv4 address in a Reserved IP that outlives the Droplet", default=False)
    allow_resize: bool = spec(
        "apply a change of size: DigitalOcean resizes a Droplet powered off hard (its databases with it) and "
        "grows its disk for good; without this, a running Droplet keeps its size and the preview warns",
        default=False)
    adopt: DigitalOceanAdoption | None = spec("a Droplet that already runs: its IDs, taken into the state instead "
                                              "of creating a new one", default=None)

    def summary(self) -> str:
        """One line on what the Droplet is (the diagram's)."""
        return f"DigitalOcean {self.size}, {self.region}" + (", Reserved IP" if self.reserved_ip else "")

    def check(self, rules: Reports, path: str) -> None:
        """What this cloud's fields may not say together."""
        if self.adopt is not None and self.adopt.reserved_ip and not self.reserved_ip:
            rules.fail(f"{path}.adopt.reservedIp", "the host keeps no Reserved IP (reservedIp: false): set "
                                                   "reservedIp: true to adopt it, or leave it out")


@dataclass(frozen=True, kw_only=True)
class ExistingHost(HostSetup):
    """A server that already exists and is adopted by address: no cloud resource is created."""

    provider: Literal["existing"] = spec("existing")
    address: str = spec("public IPv4 address (or hostname) SSH connects to", kind=kinds.ADDRESS)
    ipv6: str | None = spec("public IPv6 address, if it has one", default=None, kind=kinds.IPV6)
    user: str = spec("user stackyard connects as: root, or an admin user with passwordless sudo (never a "
                     "service's user, svc-<name>, or a daemon's system account)", default="root",
                     kind=kinds.LINUX_USER)
    access: Access = spec("SSH access", default=Access())

    def summary(self) -> str:
        """One line on what the server is (the diagram's)."""
        return f"existing server {self.address}"


HOST_KINDS: dict[str, type[HostSetup]] = {"hetzner": HetznerHost, "digitalocean": DigitalOceanHost,
                                          "existing": ExistingHost}
"""provider: -> its model class; what the Pulumi layer makes of each: ``components/clouds/``."""
Host = Annotated[HetznerHost | DigitalOceanHost | ExistingHost, Tagged("provider", HOST_KINDS)]


# --- DNS ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DnsZone:
    """A Cloudflare zone this system writes records into. The zone itself is not created here."""

    zone_id: str = spec("the zone's ID from the Cloudflare dashboard (32 hex digits)", kind=kinds.CLOUDFLARE_ID)


@dataclass(frozen=True)
class DnsRecord:
    """One Cloudflare DNS record."""

    zone: str = spec("zone name, a key of dns.zones", kind=kinds.HOSTNAME)
    name: str = spec("name relative to the zone: '@' for the apex, 'api' for api.<zone>",
                     kind=kinds.RECORD_NAME)
    type: Literal["A", "AAAA", "CNAME", "TXT", "MX"] = spec("record type")
    content: str | None = spec("record content (address, target hostname or text); or use host", default=None,
                               kind=kinds.VALUE)
    host: str | None = spec("A/AAAA only: name of a host of this system whose address is the content",
                            default=None, kind=kinds.NAME)
    proxied: bool = spec("route through Cloudflare's proxy (orange cloud); proxied records have ttl 1",
                         default=False)
    ttl: int | None = spec("TTL in seconds, 60-86400, or 1 for automatic (the default)", default=None)
    priority: int | None = spec("MX only: priority", default=None)
    comment: str | None = spec("note shown in the Cloudflare dashboard", default=None, kind=kinds.TEXT)
    adopt: str | None = spec("the ID of the live record (32 hex digits, from the Cloudflare API: GET "
                             "/zones/<zone>/dns_records?name=<name>): taken into the state instead of creating a "
                             "second record beside it", default=None, kind=kinds.CLOUDFLARE_ID)


@dataclass(frozen=True)
class Dns:
    """Cloudflare DNS for a system."""

    zones: dict[str, DnsZone] = spec("zones by domain name", default={}, keys=kinds.HOSTNAME)
    records: list[DnsRecord] = spec("records", default=[])


# --- frontends ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """How the frontend is built from its repository."""

    command: str | None = spec("build command, e.g. npm run build", default=None, kind=kinds.SHELL)
    output_dir: str | None = spec("directory the build writes, e.g. dist", default=None, kind=kinds.RELATIVE_PATH)
    root_dir: str | None = spec("directory of the app inside the repository", default=None, kind=kinds.RELATIVE_PATH)
    install_command: str | None = spec("Vercel only: install command, e.g. npm ci", default=None, kind=kinds.SHELL)


@dataclass(frozen=True)
class PagesAdoption:
    """A Pages project that already runs: the project and its custom domains are taken into the state by
    name; their CNAME records by ID."""

    records: dict[str, str] = spec("custom domain -> ID of its live CNAME record (32 hex digits)", default={},
                                   kind=kinds.CLOUDFLARE_ID, keys=kinds.HOSTNAME)


@dataclass(frozen=True)
class VercelAdoption:
    """A Vercel project that already runs: its ID, its variables' IDs, its domains' records' IDs."""

    project: str = spec("the project's ID (prj_..., Settings > General)", kind=kinds.VERCEL_PROJECT_ID)
    env: dict[str, dict[str, str]] = spec(
        "variable -> {first target it is set for -> its ID} (from GET /v9/projects/<id>/env); a {secret:} "
        "variable's entry is for the first up only: while it stays, its value is neither compared nor written",
        default={},
        kind=kinds.OPAQUE_ID, keys=kinds.ENV_KEY)
    records: dict[str, str] = spec("custom domain -> ID of its live DNS record (32 hex digits)", default={},
                                   kind=kinds.CLOUDFLARE_ID, keys=kinds.HOSTNAME)


@dataclass(frozen=True)
class PagesFrontend:
    """A Cloudflare Pages project."""

    kind: Literal["cloudflare-pages"] = spec("cloudflare-pages")
    account_id: str = spec("Cloudflare account ID (32 hex digits)", kind=kinds.CLOUDFLARE_ID)
    project: str = spec("Pages project name (becomes <project>.pages.dev)", kind=kinds.NAME)
    repository: str | None = spec("GitHub repository owner/name the project builds from", default=None,
                                  kind=kinds.GITHUB_REPOSITORY)
    production_branch: str = spec("branch deployed to production", default="main", kind=kinds.GIT_REF)
    build: Build = spec("build settings", default=Build())
    env: dict[Literal["production", "preview"], dict[str, Value]] = spec(
        "environment variables per environment (production, preview); secrets become secret_text",
        default={}, kind=kinds.VALUE, keys=kinds.ENV_KEY)
    public_secrets: list[str] = spec(
        "secret variables (VITE_, NEXT_PUBLIC_, REACT_APP_, PUBLIC_) you accept to publish: the build puts "
        "them in the JavaScript every visitor downloads; each one must be named here, or the policy pack "
        "stops the preview", default=[], kind=kinds.ENV_KEY)
    domains: list[str] = spec("custom domains", default=[], kind=kinds.HOSTNAME)
    zone: str | None = spec("zone of dns.zones whose records for the domains stackyard manages", default=None,
                            kind=kinds.HOSTNAME)
    adopt: PagesAdoption | None = spec("a project that already runs, taken into the state (by name) instead of "
                                       "created", default=None)


@dataclass(frozen=True)
class VercelFrontend:
    """A Vercel project."""

    kind: Literal["vercel"] = spec("vercel")
    project: str = spec("Vercel project name", kind=kinds.NAME)
    team_id: str | None = spec("Vercel team ID (team_...) that owns the project", default=None,
                               kind=kinds.VERCEL_TEAM_ID)
    framework: str | None = spec("framework preset, e.g. vite, nextjs", default=None, kind=kinds.SLUG)
    repository: str | None = spec("GitHub repository owner/name the project deploys from", default=None,
                                  kind=kinds.GITHUB_REPOSITORY)
    build: Build = spec("build settings", default=Build())
    env: dict[Literal["production", "preview", "development"], dict[str, Value]] = spec(
        "environment variables per target (production, preview, development); secrets are sensitive",
        default={}, kind=kinds.VALUE, keys=kinds.ENV_KEY)
    public_secrets: list[str] = spec(
        "secret variables (VITE_, NEXT_PUBLIC_, REACT_APP_, PUBLIC_) you accept to publish: the build puts "
        "them in the JavaScript every visitor downloads; each one must be named here, or the policy pack "
        "stops the preview", default=[], kind=kinds.ENV_KEY)
    domains: list[str] = spec("custom domains", default=[], kind=kinds.HOSTNAME)
    zone: str | None = spec("zone of dns.zones whose records for the domains stackyard manages", default=None,
                            kind=kinds.HOSTNAME)
    adopt: VercelAdoption | None = spec("a project that already runs, taken into the state instead of created",
                                        default=None)


Frontend = Annotated[
    PagesFrontend | VercelFrontend,
    Tagged("kind", {"cloudflare-pages": PagesFrontend, "vercel": VercelFrontend}),
]


# --- GitHub -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GithubRepository:
    """Actions secrets of one repository."""

    secrets: dict[str, Value] = spec("Actions secrets by name; every value is stored encrypted by GitHub",
                                     kind=kinds.VALUE, keys=kinds.ENV_KEY)


@dataclass(frozen=True)
class Github:
    """GitHub Actions secrets, written with the token in github:token."""

    owner: str = spec("user or organisation that owns the repositories", kind=kinds.GITHUB_OWNER)
    repositories: dict[str, GithubRepository] = spec("repositories by name (without the owner)",
                                                     keys=kinds.REPOSITORY_NAME)


# --- services -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Where a service's code comes from."""

    repo: str = spec("git URL the host clones: https for a public repository, ssh (ssh://git@host/path or "
                     "git@host:path) with deployKey for a private one; never a token in the URL", kind=kinds.GIT_URL)
    ref: str = spec("branch, tag or commit deployed; change it to deploy or roll back", default="main",
                    kind=kinds.GIT_REF)
    deploy_key: SecretRef | None = spec(
        "secret holding the private SSH key the host clones with (a read-only deploy key of this repository): "
        "kept in a root-only 0600 file, used only by the deploy's git", default=None)
    known_hosts: list[str] = spec(
        "the git server's host keys, pinned for the clone (`ssh-keyscan HOST` lines); GitHub's published "
        "ed25519 key when the repository is on github.com and none is given", default=[], kind=kinds.KNOWN_HOST)


@dataclass(frozen=True)
class ImageBuild:
    """compose: where in the repository the service's image is built from."""

    context: str = spec("build context: a directory of the repository, e.g. services/ai-server",
                        default=".", kind=kinds.RELATIVE_PATH)
    dockerfile: str = spec("Dockerfile, relative to the context", default="Dockerfile",
                           kind=kinds.RELATIVE_PATH)


@dataclass(frozen=True)
class Health:
    """How a new release proves it is up before it takes traffic."""

    path: str = spec("HTTP path that answers 2xx when healthy", default="/health", kind=kinds.HTTP_PATH)
    interval: int = spec("seconds between tries (1-3600)", default=2)
    timeout: int = spec("seconds one try may take (1-300)", default=5)
    retries: int = spec("tries before the deploy gives up and keeps the old release (1-100)", default=15)
    command: str | None = spec(
        "compose: the command Docker runs in the container as its health check (default: a GET of path "
        "with whichever of curl, wget, python3 or node the image has)", default=None, kind=kinds.SHELL)


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` per `window` seconds from one client address; more are answered 429."""

    requests: int = spec("requests allowed per window (also the burst a client may send at once)")
    window: int = spec("window in seconds", default=60)


@dataclass(frozen=True)
class Limits:
    """What the proxy accepts on the service's behalf. The defaults suit an API."""

    max_body_size: str = spec("largest request body, e.g. 10MB or 50MB (nginx answers 413 above it)",
                              default="10MB", kind=kinds.SIZE)
    read_timeout: int = spec("seconds the proxy waits for the service's answer (nginx; Caddy waits without "
                             "limit)", default=60)
    rate_limit: RateLimit | None = spec("requests per client address and window (nginx limit_req)", default=None)


@dataclass(frozen=True)
class Logs:
    """Log files rotated by logrotate: the files the service writes, and PM2's logs of a PM2 service.
    (What systemd services print goes to the journal, which rotates itself.) Rotated files are
    compressed and, like the logs, readable by the service's user and group only."""

    files: list[str] = spec("log files the service writes, e.g. /var/log/mivaa/app.log; their directory is "
                            "created, the service's own (0750)", default=[], kind=kinds.ABSOLUTE_PATH)
    rotate: Literal["daily", "weekly", "size"] = spec("rotate daily, weekly, or when a file reaches `size`",
                                                      default="daily")
    size: str = spec("with rotate: size, the size that triggers it, e.g. 100MB", default="100MB",
                     kind=kinds.SIZE)
    keep: int = spec("rotated files kept per log", default=14)


@dataclass(frozen=True)
class Watchdog:
    """A health check of every instance of the serving release, every few seconds, all the time (not
    only during deploys): an instance that stops answering, crashed or hung, is restarted alone, then
    checked again; if that does not bring it back, a diagnostic report goes to the journal
    (`journalctl -u stackyard-<service>-watchdog`), and after `restarts` tries it stops restarting
    until the instance is healthy again."""

    enabled: bool = spec("run the watchdog (services with a port and a health check)", default=True)
    paths: list[str] = spec("HTTP paths that must all answer 2xx, e.g. [/health, /docs, /openapi.json] "
                            "(default: the health check's path)", default=[], kind=kinds.HTTP_PATH)
    interval: int = spec("seconds between checks", default=30)
    failures: int = spec("failed checks in a row before the instance is restarted", default=3)
    restarts: int = spec("restarts in a row that did not help before it stops restarting and only reports",
                         default=3)


@dataclass(frozen=True)
class Replaces:
    """What serves this service on the host today, outside stackyard. It keeps serving until the
    service's first release is healthy and takes the traffic; then it is stopped (a worker's, just
    before the first release starts, so that two never run at once)."""

    pm2: list[str] = spec("PM2 processes to delete (and `pm2 save`) once the new release serves", default=[],
                          kind=kinds.PROCESS_NAME)
    pm2_home: str = spec("the PM2 home (PM2_HOME) those processes run under; its owner runs pm2",
                         default="/root/.pm2", kind=kinds.ABSOLUTE_PATH)
    systemd: list[str] = spec("systemd units to stop and disable once the new release serves", default=[],
                              kind=kinds.PROCESS_NAME)
    listen: int | None = spec("loopback port the old process serves on: the proxy routes there until the "
                              "first deploy switches it to the new release", default=None, check=formats.port)


@dataclass(frozen=True)
class Service:
    """A process of the system running on one of its hosts, deployed from git."""

    host: str = spec("name of the host it runs on", kind=kinds.NAME)
    runtime: str = spec("systemd (uv/venv or any command), pm2 or compose", kind=kinds.NAME)
    source: Source = spec("git repository and ref")
    command: str | None = spec("command that starts one instance; $PORT is its port (systemd, pm2)",
                               default=None, kind=kinds.SHELL)
    language: Literal["python", "node", "other"] = spec(
        "python gets uv and a .venv from requirements.txt, node gets npm ci", default="other")
    install: list[str] = spec("commands run in a new release before it starts (as the service user)",
                              default=[], kind=kinds.SHELL)
    release: list[str] = spec(
        "the release phase: commands run once per new release (a new commit, or a changed build), after its "
        "build and before any of its processes starts, as the service user, with the service's env, in the "
        "release (`.venv/bin/python manage.py migrate`, `collectstatic`), holding the deploy's lock. One that "
        "fails stops the deploy with the running release serving, its output shown (any env secret in it "
        "masked); the next `up` runs them again. A deploy of an unchanged release does not. Write them to be "
        "safe to run twice: a deploy killed between one and the release's start runs them again",
        default=[], kind=kinds.SHELL)
    port: int | None = spec("port the proxy serves the service on; instances listen on their own ports",
                            default=None, check=formats.port)
    container_port: int | None = spec("compose: port the container listens on (default: port)", default=None,
                                      check=formats.port)
    build: ImageBuild | None = spec("compose: the image's build context and Dockerfile (default: the "
                                    "repository's root and its Dockerfile)", default=None)
    instances: int = spec("instances behind the proxy's upstream", default=1)
    env: dict[str, Value] = spec("environment; secrets reach the host only as a 0600 file. Not PORT, PATH, HOME "
                                 "or PM2_HOME: stackyard sets them", default={},
                                 kind=kinds.VALUE, keys=kinds.ENV_KEY)
    files: dict[str, Value] = spec("files for the service, mode 0600: copied into every release (path relative "
                                   "to it), or for compose mounted read-only at an absolute container path",
                                   default={}, kind=kinds.VALUE, keys=kinds.FILE_PATH)
    health: Health | None = spec("health check gating every deploy (services with a port)", default=Health())
    hostnames: list[str] = spec("public hostnames the proxy routes to the service", default=[],
                                kind=kinds.HOSTNAME)
    keep_releases: int = spec("releases kept for rollback (2-50)", default=5)
    replaces: Replaces | None = spec("the processes serving it today outside stackyard, retired once it serves",
                                     default=None)
    logs: Logs = spec("log rotation of its log files and PM2 logs", default=Logs())
    limits: Limits = spec("request body size, read timeout and rate limit at the proxy", default=Limits())
    watchdog: Watchdog = spec("periodic health checks of the serving instances, restarting one that stops "
                              "answering", default=Watchdog())


# --- Supabase -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthProvider:
    """An external sign-in provider of Supabase Auth (``external_<name>_*`` in the Management API)."""

    enabled: bool = spec("offer this provider on the sign-in page", default=True)
    client_id: str | None = spec("OAuth client ID from the provider's developer console", default=None,
                                 kind=kinds.OPAQUE_ID)
    secret: SecretRef | None = spec("secret holding the OAuth client secret", default=None)
    url: str | None = spec("azure, gitlab, keycloak, workos: the provider's base URL", default=None, kind=kinds.URL)


@dataclass(frozen=True)
class SupabaseAuth:
    """Supabase Auth settings (dashboard: Authentication). Keys left out stay as they are."""

    site_url: str | None = spec("where sign-in links and redirects land by default", default=None,
                                kind=kinds.URL)
    redirect_urls: list[str] | None = spec("other URLs sign-in may redirect to (wildcards allowed)",
                                           default=None, kind=kinds.REDIRECT_URL)
    jwt_expiry: int | None = spec("access token lifetime in seconds (at most 604800)", default=None)
    disable_signup: bool | None = spec("refuse new sign-ups", default=None)
    external: dict[str, OAuthProvider] = spec("OAuth providers by name: github, google, azure, ...",
                                              default={}, keys=kinds.SQL_NAME)


@dataclass(frozen=True)
class SupabaseApi:
    """PostgREST, the project's data API (dashboard: Settings > API). Keys left out stay as they are."""

    schemas: list[str] | None = spec("schemas the API exposes, e.g. [public, graphql_public]", default=None,
                                     kind=kinds.SQL_NAME)
    extra_search_path: list[str] | None = spec("schemas on the search path of API queries", default=None,
                                               kind=kinds.SQL_NAME)
    max_rows: int | None = spec("most rows one API request returns", default=None)


@dataclass(frozen=True)
class SupabaseNetwork:
    """Who may connect to the database directly. Keys left out stay as they are."""

    allowed_cidrs: list[str] | None = spec("networks (IPv4 and IPv6 CIDR) allowed to reach Postgres",
                                           default=None, kind=kinds.CIDR)
    enforce_ssl: bool | None = spec("refuse database connections without TLS", default=None)


@dataclass(frozen=True)
class SupabasePolicy:
    """A row-level security policy. A change drops and recreates it in one transaction."""

    name: str = spec("policy name, unique per table", kind=kinds.TEXT)
    table: str = spec("table it guards, `table` (schema public) or `schema.table`", kind=kinds.SQL_TABLE)
    command: Literal["all", "select", "insert", "update", "delete"] = spec("which statements it covers",
                                                                           default="all")
    roles: list[str] = spec("roles it applies to (default: every role)", default=["public"],
                            kind=kinds.SQL_NAME)
    using: str | None = spec("SQL condition a row must meet to be seen (USING)", default=None,
                             kind=kinds.SQL_EXPRESSION)
    check: str | None = spec("SQL condition a written row must meet (WITH CHECK)", default=None,
                             kind=kinds.SQL_EXPRESSION)
    permissive: bool = spec("permissive (OR-ed with others) or restrictive (AND-ed)", default=True)


@dataclass(frozen=True)
class SupabaseDatabase:
    """Database settings, applied as SQL and kept in Pulumi state."""

    via: Literal["api", "postgres"] = spec(
        "api: the Management API's SQL endpoint (uses the access token); postgres: a direct connection",
        default="api")
    url: SecretRef | None = spec("via postgres: secret holding the connection URI (postgresql://...)",
                                 default=None)
    extensions: list[str] = spec("extensions to create, e.g. [uuid-ossp, vector, ltree]", default=[],
                                 kind=kinds.SQL_NAME)
    extension_schema: str = spec("schema extensions are created in", default="extensions",
                                 kind=kinds.SQL_NAME)
    row_level_security: list[str] = spec("tables with row-level security enabled", default=[],
                                         kind=kinds.SQL_TABLE)
    rls_on_removal: Literal["keep", "disable"] = spec(
        "a table taken out of rowLevelSecurity (or a destroyed stack): keep its row-level security on, so "
        "no row becomes readable, or disable it", default="keep")
    policies: list[SupabasePolicy] = spec("row-level security policies", default=[])
    migrations: str | None = spec(
        "directory of ordered SQL migrations (`<version>_<name>.sql`, relative to the project); "
        "each runs once, and editing one that was applied is an error", default=None, kind=kinds.RELATIVE_PATH)


SUPABASE_API_URL = "https://api.supabase.com"
"""Supabase's Management API: the only place the account-wide access token goes unless the environment
names another (components/model/rules/supabase.py)."""


@dataclass(frozen=True)
class Supabase:
    """A Supabase project's settings, managed through the Management API. The project itself is not
    created here."""

    project_ref: str = spec("the project's ref, the 20 letters in <ref>.supabase.co",
                            kind=kinds.SUPABASE_REF)
    access_token: SecretRef = spec("secret holding a Supabase personal access token (sbp_...)",
                                   default=SecretRef("supabaseAccessToken"))
    api_url: str = spec("Management API base URL: https://api.supabase.com, or the URL the environment "
                        "variable STACKYARD_SUPABASE_API_URL names where the program runs (a test's stand-in)",
                        default=SUPABASE_API_URL, kind=kinds.URL)
    auth: SupabaseAuth | None = spec("Auth settings", default=None)
    api: SupabaseApi | None = spec("data API (PostgREST) settings", default=None)
    network: SupabaseNetwork | None = spec("network restrictions and SSL enforcement", default=None)
    secrets: dict[str, Value] = spec("edge-function secrets by name; removed names are deleted", default={},
                                     kind=kinds.VALUE, keys=kinds.ENV_KEY)
    database: SupabaseDatabase | None = spec("extensions, row-level security, policies and migrations",
                                             default=None)


# --- systems ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """The system's own cloud tokens, for systems that belong to different companies. A cloud not named
    here uses the stack's provider config (hcloud:token, digitalocean:token, cloudflare:apiToken,
    vercel:apiToken, github:token)."""

    hcloud: SecretRef | None = spec("secret holding this system's Hetzner Cloud project token", default=None)
    digitalocean: SecretRef | None = spec("secret holding this system's DigitalOcean token", default=None)
    cloudflare: SecretRef | None = spec("secret holding this system's Cloudflare API token", default=None)
    vercel: SecretRef | None = spec("secret holding this system's Vercel API token", default=None)
    github: SecretRef | None = spec("secret holding this system's GitHub token (Actions secrets)", default=None)


@dataclass(frozen=True)
class System:
    """One product: its servers, DNS, frontends and CI secrets."""

    description: str | None = spec("what the system is", default=None, kind=kinds.TEXT)
    hosts: dict[str, Host] = spec("servers by name", default={}, keys=kinds.NAME)
    dns: Dns = spec("Cloudflare DNS", default=Dns())
    frontends: dict[str, Frontend] = spec("frontends by name", default={}, keys=kinds.NAME)
    github: Github | None = spec("GitHub Actions secrets", default=None)
    services: dict[str, Service] = spec("processes deployed to the hosts", default={}, keys=kinds.NAME)
    supabase: Supabase | None = spec("Supabase project settings", default=None)
    credentials: Credentials = spec("this system's own cloud tokens (default: the stack's)", default=Credentials())
    formerly: list[str] = spec(
        "names this system had before: its resources keep their state under the new name (Pulumi aliases), "
        "so a rename creates and deletes nothing", default=[], kind=kinds.NAME)


@dataclass(frozen=True)
class Settings:
    """The top-level keys of the stackyard config namespace (also declared in Pulumi.yaml)."""

    systems: dict[str, System] = spec("the systems this stack manages, by name", keys=kinds.NAME)
    ssh_keys: list[str] = spec("OpenSSH public keys installed for the deploy user on every created host",
                               default=[], kind=kinds.SSH_PUBLIC_KEY)
    ssh_allow_from: list[str] = spec("networks allowed to reach SSH on every host unless the host says otherwise",
                                     default=["0.0.0.0/0", "::/0"], kind=kinds.CIDR)
    protect: bool = spec("protect servers from deletion and replacement", default=True)
    adopt_ssh_keys: dict[Literal["hetzner", "digitalocean"], dict[str, str]] = spec(
        "cloud SSH keys that already exist, by provider: public key (as in sshKeys) -> the key's ID in that cloud "
        "(`hcloud ssh-key list`, `doctl compute ssh-key list`); both clouds refuse a second key with the same "
        "fingerprint", default={}, kind=kinds.NUMERIC_ID, keys=kinds.SSH_PUBLIC_KEY)


@dataclass(frozen=True)
class Topology:
    """A validated stack: settings plus the warnings worth showing the operator."""

    settings: Settings
    warnings: tuple[str, ...] = ()

    @property
    def systems(self) -> dict[str, System]:
        return self.settings.systems
