"""The proxy's ACME client: which certificate authority it asks, which roots it trusts for it, and what
`pulumi up` says when a hostname gets no certificate.

Caddy is its own ACME client; nginx's is certbot. Both are told the same two things: the directory
(nothing for Let's Encrypt's production one, each client's default, so that stacks written before
`proxy.acme` render as they did), and for a private CA the file of roots its directory's HTTPS
certificate chains to. certbot reads them from REQUESTS_CA_BUNDLE (with the system's roots: the variable
replaces them), in the setup script's own run and in the renewals its systemd timer starts; Caddy from
`acme_ca_root`, for that directory only. Nothing else on the host trusts those roots.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.formats import ACME_DIRECTORIES
from ..model.host_layout import Paths
from .quoting import caddy_token, heredoc_to, sh, write_whole

DEFAULT = ACME_DIRECTORIES["letsencrypt"]
CERTBOT_DROP_IN = "certbot.service.d/stackyard-acme.conf"
"""Where the renewals of certbot's timer learn the CA roots (the unit's environment), under systemd's
directory."""
SYSTEM_ROOTS = "/etc/ssl/certs/ca-certificates.crt"
"""Debian's and Ubuntu's bundle of the publicly trusted roots (ca-certificates)."""


@dataclass(frozen=True)
class AcmeClient:
    """The stack's ``proxy.acme``, as the proxy's client needs it."""

    directory: str = DEFAULT
    """The directory's URL (the stack's word for one resolved)."""
    ca_root: str | None = None
    """PEM roots the directory's HTTPS certificate chains to, when it is not publicly trusted."""

    @classmethod
    def of(cls, directory: str, ca_root: str | None) -> AcmeClient:
        return cls(ACME_DIRECTORIES.get(directory, directory), ca_root)

    @property
    def custom(self) -> bool:
        """Another directory than the clients' default (Let's Encrypt's production one)."""
        return self.directory != DEFAULT

    def caddy_options(self, paths: Paths) -> list[str]:
        """The Caddyfile's global options for this CA (acme_ca_root: trusted for this directory only)."""
        lines = [f"\tacme_ca {caddy_token(self.directory)}"] if self.custom else []
        return lines + ([f"\tacme_ca_root {roots_file(paths)}"] if self.ca_root else [])

    def certbot_options(self) -> str:
        """certbot's arguments for this CA (its renewal file records the server for later renewals)."""
        return f"--server {sh(self.directory)} " if self.custom else ""

    def certbot_environment(self, paths: Paths) -> str:
        """What a certbot command line is prefixed with."""
        return f"REQUESTS_CA_BUNDLE={sh(bundle_file(paths))} " if self.ca_root else ""

    def install_for_caddy(self, paths: Paths) -> str:
        """Shell that puts the roots where the Caddyfile names them, before it is validated. Roots no
        longer configured go only once the Caddyfile that names none is live (caddy_cleanup): a Caddy
        restarted meanwhile would not start with the file it names gone."""
        return _write_public(roots_file(paths), self.ca_root) if self.ca_root else ""

    def caddy_cleanup(self, paths: Paths) -> str:
        return "" if self.ca_root else f"rm -f {sh(roots_file(paths))}\n"

    def install_for_certbot(self, paths: Paths) -> str:
        """Shell that writes certbot's bundle (the system's roots, then the stack's: made again each run, so
        it follows the system's) and the timer's environment; or takes both away."""
        bundle, unit = bundle_file(paths), f"{paths.systemd}/{CERTBOT_DROP_IN}"
        # systemd reloads whenever what certbot.service has loaded is not what its drop-in now says: a run
        # killed between the file and the reload is finished by the next, and the drop-in goes (and is
        # reloaded away) before the bundle it names.
        loaded = "systemctl show -p Environment --value certbot.service 2>/dev/null"
        if not self.ca_root:
            return (f"rm -f {sh(unit)}\n"
                    f"if {loaded} | grep -q REQUESTS_CA_BUNDLE=; then systemctl daemon-reload; fi\n"
                    f"rm -f {sh(bundle)}\n")
        return (_write_public(bundle, self.ca_root, after=SYSTEM_ROOTS)
                + f"install -d -m 0755 {sh(unit.rsplit('/', 1)[0])}\n"
                + write_whole(unit, f"[Service]\nEnvironment=REQUESTS_CA_BUNDLE={bundle}\n")
                + f"if ! {loaded} | grep -qxF {sh('REQUESTS_CA_BUNDLE=' + bundle)}; then systemctl daemon-reload; fi\n")


def roots_file(paths: Paths) -> str:
    """Where Caddy reads a private CA's roots (readable by its user: certificates, not keys)."""
    return f"{paths.etc}/acme-ca-root.pem"


def bundle_file(paths: Paths) -> str:
    """certbot's whole trust for its CA's HTTPS: REQUESTS_CA_BUNDLE replaces the system's roots, it adds
    nothing to them, and the timer's renewals cover every certbot certificate on the host (an operator's
    own, on Let's Encrypt, too). So the system's roots, then the stack's."""
    return f"{paths.etc}/acme-ca-bundle.pem"


def _write_public(path: str, roots: str, *, after: str | None = None) -> str:
    """Writes ``roots`` (public: certificates), after the file ``after`` if one is named, to ``path``,
    0644, whole or not at all."""
    command = f"cat {after} - > {sh(path + '.new')}" if after else f"cat > {sh(path + '.new')}"
    return (heredoc_to(command, roots.strip() + "\n")
            + f"chmod 0644 {sh(path + '.new')}\nmv -f {sh(path + '.new')} {sh(path)}\n")


def no_certificate(hostname: str, directory: str, *, caddy: bool) -> str:
    """What `pulumi up` says of a hostname the CA gave no certificate (echoed by the setup script)."""
    then = ("Caddy keeps asking by itself (1, 2, then 5 minutes apart) and serves it as soon as the CA "
            "can reach the host: no reload needed, and the next pulumi up confirms it" if caddy else
            "the site answers it with a stand-in certificate until then; run pulumi up again once its "
            "DNS answers, and certbot gets the real one")
    return (f"stackyard: no certificate for {hostname} from {directory} yet. The CA fetches "
            f"http://{hostname}/.well-known/acme-challenge/ from this host: point {hostname}'s DNS (A/AAAA) "
            f"at this host and keep port 80 open to the internet. {then[0].upper() + then[1:]}.")


LETS_ENCRYPT = AcmeClient()
"""Let's Encrypt's production directory, publicly trusted: the default."""
