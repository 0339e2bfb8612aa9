"""What the proxy step would take offline, stopped by the pre-flight (round 31): Debian's default nginx site
was turned off whatever it held (a WordPress served from it went dark, the pre-flight passing), and a site
file or Caddyfile named in proxy.replaces went whole, with the other hostnames it served.

Run for real: the rendered pre-flight in a mount namespace whose /etc/nginx and /etc/caddy are scratch
directories, with this machine's dpkg and nginx package (the md5 it keeps of the default site)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from components.render.preflight import PreflightPlan, preflight_script

DEFAULT = Path("/etc/nginx/sites-available/default")
pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or not DEFAULT.is_file() or subprocess.run(
        ["unshare", "--mount", "true"], capture_output=True).returncode != 0,
    reason="needs unshare --mount (root) and the nginx package's default site")

WORDPRESS = """server {
    listen 80 default_server;
    server_name shop.example.org www.shop.example.org;
    root /var/www/wordpress;
    location ~ \\.php$ { fastcgi_pass unix:/run/php/php-fpm.sock; }
}
"""


def preflight(tmp: Path, plan: PreflightPlan, *, default: str | None = None, sites: dict[str, str] | None = None,
              caddyfile: str | None = None) -> subprocess.CompletedProcess:
    """The pre-flight of ``plan`` where sites-enabled holds Debian's default site (its text ``default``, or the
    package's own when None) and ``sites``, and /etc/caddy/Caddyfile is ``caddyfile``."""
    nginx, caddy = tmp / "nginx", tmp / "caddy"
    (nginx / "sites-available").mkdir(parents=True)
    (nginx / "sites-enabled").mkdir()
    (nginx / "conf.d").mkdir()
    caddy.mkdir()
    (nginx / "sites-available/default").write_text(DEFAULT.read_text() if default is None else default)
    (nginx / "sites-enabled/default").symlink_to("/etc/nginx/sites-available/default")
    for name, text in (sites or {}).items():
        (nginx / "sites-enabled" / name).write_text(text)
    if caddyfile is not None:
        (caddy / "Caddyfile").write_text(caddyfile)
    (tmp / "preflight").write_text(preflight_script(plan))
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                           f"mount --bind {nginx} /etc/nginx && mkdir -p /etc/caddy && mount --bind {caddy} /etc/caddy "
                           f"&& bash {tmp}/preflight"], capture_output=True, text=True, timeout=60)


def plan(proxy: str = "nginx", replaces: tuple[str, ...] = ()) -> PreflightPlan:
    return PreflightPlan(system="shop", host="box", accessories={}, services=[], proxy=proxy,
                         proxy_replaces=replaces, hostnames=["api.example.org"], tls="internal")


def test_debian_s_own_default_site_is_no_conflict(tmp_path: Path) -> None:
    done = preflight(tmp_path, plan())
    assert done.returncode == 0, done.stderr


def test_a_default_site_that_serves_something_else_stops_the_up(tmp_path: Path) -> None:
    done = preflight(tmp_path, plan(), default=WORDPRESS)
    assert done.returncode == 1
    assert "sites-enabled/default is not Debian's own" in done.stderr
    assert "list default in systems.shop.hosts.box.proxy.replaces" in done.stderr


def test_a_replaced_site_that_serves_other_names_stops_the_up_naming_them(tmp_path: Path) -> None:
    done = preflight(tmp_path, plan(replaces=("default",)), default=WORDPRESS)
    assert done.returncode == 1
    assert "is not Debian's own" not in done.stderr
    assert "also serves shop.example.org" in done.stderr and "also serves www.shop.example.org" in done.stderr
    site = "server {\n    listen 80;\n    server_name api.example.org blog.example.org;\n}\n"
    done = preflight(tmp_path / "2", plan(replaces=("shop",)), sites={"shop": site})
    assert done.returncode == 1 and "also serves blog.example.org" in done.stderr
    assert "also serves api.example.org" not in done.stderr


def test_a_replaced_site_serving_only_the_stack_s_names_is_no_conflict(tmp_path: Path) -> None:
    site = ("server {\n    listen 80;\n    server_name api.example.org;\n"
            "    location / { proxy_pass http://127.0.0.1:5000; }\n}\n")
    done = preflight(tmp_path, plan(replaces=("shop",)), sites={"shop": site})
    assert done.returncode == 0, done.stderr


def test_a_replaced_caddyfile_that_serves_other_names_stops_the_up(tmp_path: Path) -> None:
    both = ("{\n\temail ops@example.org\n}\n(common) {\n\tencode gzip\n}\n"
            "api.example.org {\n\treverse_proxy 127.0.0.1:5000\n}\n"
            "https://blog.example.org:443, www.example.org {\n\troot * /srv/blog\n\tfile_server\n}\n")
    done = preflight(tmp_path, plan("caddy", ("Caddyfile",)), caddyfile=both)
    assert done.returncode == 1
    assert "also serves blog.example.org" in done.stderr and "also serves www.example.org" in done.stderr
    assert "also serves api.example.org" not in done.stderr and "ops@" not in done.stderr
    alone = "api.example.org {\n\treverse_proxy 127.0.0.1:5000\n}\n"
    assert preflight(tmp_path / "2", plan("caddy", ("Caddyfile",)), caddyfile=alone).returncode == 0


@pytest.mark.parametrize("changed", [False, True])
def test_the_proxy_step_turns_off_only_debian_s_own_default_site(tmp_path: Path, changed: bool) -> None:
    """The nginx step adds the default site to what it turns off only where debian_default_site says so
    (the pre-flight stops on any other unless proxy.replaces names it)."""
    from components.render.provision import DEBIAN_DEFAULT_SITE, nginx_setup_script

    step = nginx_setup_script([], tls="internal", email=None, site="", bootstrap="", upstreams={})
    assert "if debian_default_site; then replaced_sites+=(default); fi" in step
    assert "replaced_sites=()" in step  # nothing else: not default whatever it holds
    nginx = tmp_path / "nginx"
    (nginx / "sites-available").mkdir(parents=True)
    (nginx / "sites-enabled").mkdir()
    (nginx / "sites-available/default").write_text(WORDPRESS if changed else DEFAULT.read_text())
    (nginx / "sites-enabled/default").symlink_to("/etc/nginx/sites-available/default")
    (tmp_path / "check").write_text(DEBIAN_DEFAULT_SITE + "debian_default_site\n")
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                           f"mount --bind {nginx} /etc/nginx && bash {tmp_path}/check"], capture_output=True, text=True)
    assert done.returncode == (1 if changed else 0), done.stderr
