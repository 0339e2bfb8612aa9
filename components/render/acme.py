"""The proxy's ACME client: which certificate authority it asks, which roots it trusts for it, and what
`pulumi up` says when a hostname gets no certificate.

Caddy is its own ACME client; nginx's is certbot. Both are told the same two things: the directory
(nothing for Let's Encrypt's production one, each client's default, so that stacks written before
`proxy.acme` render as they did), and for a private CA the file of roots its directory's HTTPS
certificate chains to. certbot reads that file from REQUESTS_CA_BUNDLE, in the setup script's own run
and in the renewals its systemd timer starts; Caddy from `acme_ca_root`. Nothing else on the host
trusts those roots.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.formats import ACME_DIRECTORIES
from .layout import Paths
from .quoting import heredoc_to, sh

DEFAULT = ACME_DIRECTORIES["letsencrypt"]
CERTBOT_DROP_IN = "/etc/systemd/system/certbot.service.d/stackyard-acme.conf"
"""Where the renewals of certbot's timer learn the CA roots (the unit's environment)."""


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

    def ca_file(self, paths: Paths) -> str | None:
        """Where the roots are on the host (readable by the proxy's user: certificates, not keys)."""
        return f"{paths.etc}/acme-ca-root.pem" if self.ca_root else None

    def caddy_options(self, paths: Paths) -> list[str]:
        """The Caddyfile's global options for this CA."""
        lines = [f"\tacme_ca {self.directory}"] if self.custom else []
        ca_file = self.ca_file(paths)
        return lines + ([f"\tacme_ca_root {ca_file}"] if ca_file else [])

    def certbot_options(self) -> str:
        """certbot's arguments for this CA (its renewal file records the server for later renewals)."""
        return f"--server {sh(self.directory)} " if self.custom else ""

    def certbot_environment(self, paths: Paths) -> str:
        """What a certbot command line is prefixed with."""
        ca_file = self.ca_file(paths)
        return f"REQUESTS_CA_BUNDLE={sh(ca_file)} " if ca_file else ""

    def install(self, paths: Paths, *, certbot: bool) -> str:
        """Shell that puts the roots in place (or takes away roots no longer configured), and for certbot
        the timer's environment. Written whole, before any client reads them."""
        path = f"{paths.etc}/acme-ca-root.pem"
        if not self.ca_root:
            out = f"rm -f {sh(path)}\n"
            if certbot:
                out += f"if [ -e {CERTBOT_DROP_IN} ]; then rm -f {CERTBOT_DROP_IN}; systemctl daemon-reload; fi\n"
            return out
        out = (heredoc_to(f"cat > {sh(path + '.new')}", self.ca_root.strip() + "\n")
               + f"chmod 0644 {sh(path + '.new')}\nmv -f {sh(path + '.new')} {sh(path)}\n")
        if certbot:
            drop_in = f"[Service]\nEnvironment=REQUESTS_CA_BUNDLE={path}\n"
            out += (f"install -d -m 0755 {CERTBOT_DROP_IN.rsplit('/', 1)[0]}\n"
                    f"if ! cmp -s {CERTBOT_DROP_IN} - <<'EOF'\n{drop_in}EOF\nthen\n"
                    + heredoc_to(f"  cat > {CERTBOT_DROP_IN}.new", drop_in)
                    + f"  mv -f {CERTBOT_DROP_IN}.new {CERTBOT_DROP_IN}\n  systemctl daemon-reload\nfi\n")
        return out


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
