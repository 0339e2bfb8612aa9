"""Reverse proxy configuration: a Caddyfile or an nginx site, plus one upstream file per service.

Deploys rewrite only a service's upstream file and reload the proxy, which both Caddy and nginx
do gracefully: open connections finish on the old workers, new ones go to the new release.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..model.host_layout import Paths
from .acme import LETS_ENCRYPT, AcmeClient
from .layout import ServicePlan
from .quoting import caddy_string, caddy_token, nginx_string, nginx_token

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-XSS-Protection": "1; mode=block",  # seed 004's; ignored by current browsers, kept for old ones
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
IMMUTABLE = "public, max-age=31536000, immutable"
"""Cache-Control of /assets/ under a static root: Vite's hashed build output never changes in place."""


def headers_of(security_headers: bool, csp: str | None) -> dict[str, str]:
    """The headers every answer through the proxy carries."""
    if not security_headers:
        return {}
    return {**SECURITY_HEADERS, **({"Content-Security-Policy": csp} if csp else {})}


def nginx_size(size: str) -> str:
    """10MB -> 10m: the model's sizes in nginx's units."""
    return size[:-2] + size[-2].lower()


def nginx_rate(requests: int, window: int) -> str:
    """nginx counts per second or per minute: the nearest per-minute rate, at least 1r/m."""
    if window == 1:
        return f"{requests}r/s"
    return f"{max(1, round(requests * 60 / window))}r/m"


CADDY_MARK = "# Managed by stackyard."
"""The first line of the Caddyfile stackyard writes: how a pre-flight tells it from someone else's."""


def served_hostnames(services: Iterable[ServicePlan], static: Iterable[str]) -> list[str]:
    """Every hostname the proxy serves: the services' (those with a port), then the static roots'."""
    return [h for plan in services if plan.port is not None for h in plan.hostnames] + sorted(static)


def internal_addresses(containers: str | None) -> list[str]:
    """Where the proxy serves the services' stable ports: loopback, and the containers' network address
    on a host that runs containers."""
    return ["127.0.0.1", *([containers] if containers else [])]


def upstream_name(plan: ServicePlan) -> str:
    """The service's nginx upstream, and the zone of its rate limit (nginx keeps the two apart)."""
    return "stackyard_" + plan.name.replace("-", "_")


def upstream_file(plan: ServicePlan, proxy: str, color: str = "blue") -> str:
    """The upstream a deploy rewrites; before the first deploy it points at the blue slot, or at the
    process that serves the service today outside stackyard (``replaces.listen``), so that taking a
    host over changes nothing its users see until the first release is healthy."""
    ports = [plan.replaced_port] if plan.replaced_port is not None else plan.slot_ports(color)
    if proxy == "nginx":
        servers = "".join(f"    server 127.0.0.1:{port} max_fails=0;\n" for port in ports)
        return f"upstream {upstream_name(plan)} {{\n{servers}}}\n"
    return "reverse_proxy " + " ".join(f"127.0.0.1:{port}" for port in ports) + "\n"


CADDY_ADMIN_DIRECTORY = "/run/caddy-admin"
CADDY_ADMIN = f"unix/{CADDY_ADMIN_DIRECTORY}/admin.sock"
"""Caddy's admin API: a socket in a directory caddy's alone (its systemd RuntimeDirectory, mode 0700). Its
default, localhost:2019, takes a whole new configuration from any local user: a service's user could
route every hostname to itself or serve Caddy's own keys. `caddy reload` (the unit's ExecReload, as
caddy) finds the socket in the Caddyfile it loads."""


def caddyfile(services: Sequence[ServicePlan], *, email: str | None, tls: str, security_headers: bool,
              static: dict[str, str], paths: Paths = Paths(), csp: str | None = None,
              containers: str | None = None, acme: AcmeClient = LETS_ENCRYPT) -> str:
    """Caddy gets and renews certificates itself, from the ``acme`` CA; ``tls: internal`` uses its local
    CA instead. Caddy waits for an upstream's answer without a limit, so a service's readTimeout needs
    nothing here. ``containers``: the containers' network address, where the stable ports are served too."""
    lines = [CADDY_MARK, "{", f"\tadmin {CADDY_ADMIN}"]
    if email:
        lines.append(f"\temail {caddy_token(email)}")
    if tls == "internal":
        lines.append("\tlocal_certs")
    else:
        lines += acme.caddy_options(paths)
    lines += ["\tservers {", "\t\ttimeouts {", "\t\t\tread_body 30s", "\t\t}", "\t}", "}", ""]
    if security_headers:
        lines += ["(security_headers) {", "\theader {"]
        lines += [f"\t\t{name} {caddy_string(value)}" for name, value in headers_of(security_headers, csp).items()]
        lines += ["\t\t-Server", "\t}", "}", ""]
    for plan in services:
        if plan.port is None:
            continue
        include = paths.upstream(plan.name, "caddy")
        body = ["\trequest_body {", f"\t\tmax_size {caddy_token(plan.max_body_size)}", "\t}"]
        for hostname in plan.hostnames:
            lines.append(f"{caddy_token(hostname)} {{")
            if security_headers:
                lines.append("\timport security_headers")
            lines += [*body, f"\timport {caddy_token(include)}", "}", ""]
        # Other services reach this one on its stable port, whatever slot is serving, whatever name they
        # call it by (127.0.0.1, localhost; containers: the service's name).
        binds = " ".join(internal_addresses(containers))
        lines += [f"http://:{plan.port} {{", f"\tbind {binds}", *body, f"\timport {caddy_token(include)}", "}", ""]
    for hostname, root in sorted(static.items()):
        lines.append(f"{caddy_token(hostname)} {{")
        if security_headers:
            lines.append("\timport security_headers")
        lines += ["\t@assets path /assets/*", f"\theader @assets Cache-Control {caddy_string(IMMUTABLE)}",
                  f"\troot * {caddy_token(root)}", "\tfile_server", "}", ""]
    return "\n".join(lines).rstrip() + "\n"


def nginx_site(services: Sequence[ServicePlan], *, tls: str, security_headers: bool,
               static: dict[str, str], paths: Paths = Paths(), csp: str | None = None,
               containers: str | None = None) -> str:
    """Certificates come from certbot (webroot) or, for ``tls: internal``, a self-signed one made on
    the host; both at ``<certs>/<hostname>/fullchain.pem`` (the full chain: seed 003's broken TLS).
    ``containers``: the containers' network address, where the stable ports are served too."""
    out: list[str] = []
    headers = ""
    if security_headers:
        headers = "".join(f"    add_header {name} {nginx_string(value)} always;\n"
                          for name, value in headers_of(security_headers, csp).items())
    hostnames = served_hostnames(services, static)
    for plan in services:
        if plan.port is not None:
            out.append(f"include {nginx_token(paths.upstream(plan.name, 'nginx'))};\n")
    if hostnames:
        out.append(
            "server {\n"
            "    listen 80;\n"
            "    listen [::]:80;\n"
            f"    server_name {' '.join(map(nginx_token, hostnames))};\n"
            f"    location /.well-known/acme-challenge/ {{ root {nginx_token(paths.acme_root)}; }}\n"
            "    location / { return 301 https://$host$request_uri; }\n"
            "}\n"
        )

    def tls_server(hostname: str, body: str) -> str:
        return (
            "server {\n"
            "    listen 443 ssl http2;\n"
            "    listen [::]:443 ssl http2;\n"
            f"    server_name {nginx_token(hostname)};\n"
            f"    ssl_certificate {nginx_token(f'{paths.certs}/{hostname}/fullchain.pem')};\n"
            f"    ssl_certificate_key {nginx_token(f'{paths.certs}/{hostname}/privkey.pem')};\n"
            "    ssl_protocols TLSv1.2 TLSv1.3;\n"
            "    ssl_prefer_server_ciphers off;\n"
            "    server_tokens off;\n"
            + headers + body +
            "}\n"
        )

    proxy_location = (
        "    location / {{\n"
        "{limits}"
        "        proxy_pass http://{upstream};\n"
        "        proxy_http_version 1.1;\n"
        "        proxy_set_header Host $host;\n"
        "        proxy_set_header X-Real-IP $remote_addr;\n"
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "        proxy_set_header X-Forwarded-Proto $scheme;\n"
        "        proxy_set_header Connection \"\";\n"
        "        proxy_next_upstream error timeout http_502 http_503;\n"
        "    }}\n"
    )
    for plan in services:
        if plan.port is None:
            continue
        limits = (f"        client_max_body_size {nginx_size(plan.max_body_size)};\n"
                  f"        proxy_read_timeout {plan.read_timeout}s;\n"
                  f"        proxy_send_timeout {plan.read_timeout}s;\n")
        public = limits
        if plan.rate_limit is not None:
            requests, window = plan.rate_limit
            out.insert(0, f"limit_req_zone $binary_remote_addr zone={upstream_name(plan)}:10m "
                          f"rate={nginx_rate(requests, window)};\n")
            # The burst lets a client send a window's worth at once; past it, 429 until the bucket drains.
            public += (f"        limit_req zone={upstream_name(plan)} burst={requests} nodelay;\n"
                       "        limit_req_status 429;\n")
        upstream = upstream_name(plan)
        for hostname in plan.hostnames:
            out.append(tls_server(hostname, proxy_location.format(upstream=upstream, limits=public)))
        # Other services call it on loopback (containers: on their network's address): not rate-limited.
        listens = "".join(f"    listen {address}:{plan.port};\n" for address in internal_addresses(containers))
        out.append("server {\n" + listens + proxy_location.format(upstream=upstream, limits=limits) + "}\n")
    for hostname, root in sorted(static.items()):
        # add_header in a location replaces the server's, so the assets location repeats them.
        assets = (f"        add_header Cache-Control {nginx_string(IMMUTABLE)} always;\n"
                  + headers.replace("    add_header", "        add_header"))
        # A link under the root is followed only where its owner also owns what it leads to.
        out.append(tls_server(hostname, f"    root {nginx_token(root)};\n    disable_symlinks if_not_owner;\n"
                                        "    location / { try_files $uri $uri/ =404; }\n"
                                        f"    location /assets/ {{\n{assets}        try_files $uri =404;\n    }}\n"))
    return "\n".join(out)


def nginx_bootstrap_site(hostnames: Sequence[str], paths: Paths = Paths()) -> str:
    """Port 80 only, answering ACME challenges: what nginx serves until the certificates exist."""
    return (
        "server {\n"
        "    listen 80;\n"
        "    listen [::]:80;\n"
        f"    server_name {' '.join(map(nginx_token, hostnames)) or '_'};\n"
        f"    location /.well-known/acme-challenge/ {{ root {nginx_token(paths.acme_root)}; }}\n"
        "    location / { return 503; }\n"
        "}\n"
    )
