"""What the proxy step would take offline, stopped by the pre-flight (round 31): Debian's default nginx site
was turned off whatever it held (a WordPress served from it went dark, the pre-flight passing), and a site
file or Caddyfile named in proxy.replaces went whole, with the other hostnames it served.

Run for real: the rendered pre-flight in a mount namespace whose /etc/nginx and /etc/caddy are scratch
directories, with this machine's dpkg and nginx package (the md5 it keeps of the default site)."""

from __future__ import annotations

import hashlib
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
              caddyfile: str | None = None, html: dict[str, str] | None = None,
              html_linked: bool = False) -> subprocess.CompletedProcess:
    """The pre-flight of ``plan`` where sites-enabled holds Debian's default site (its text ``default``, or the
    package's own when None) and ``sites``, /etc/caddy/Caddyfile is ``caddyfile``, and /var/www/html holds
    the package's own page and ``html``."""
    nginx, caddy, www = tmp / "nginx", tmp / "caddy", tmp / "www"
    # /var/www/html, or a link to /var/www/site holding what it would
    pages = www / ("site" if html_linked else "html")
    pages.mkdir(parents=True)
    if html_linked:
        (www / "html").symlink_to("/var/www/site")
    (pages / "index.nginx-debian.html").write_text("<h1>Welcome to nginx!</h1>\n")
    for name, text in (html or {}).items():
        (pages / name).write_text(text)
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
                           f"mount --bind {nginx} /etc/nginx && mkdir -p /etc/caddy /var/www && mount --bind {caddy} "
                           f"/etc/caddy && mount --bind {www} /var/www && bash {tmp}/preflight"],
                          capture_output=True, text=True, timeout=60)


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
    from components.render.provision import PACKAGE_DEFAULTS, nginx_setup_script

    step = nginx_setup_script([], tls="internal", email=None, site="", bootstrap="", upstreams={})
    assert "if debian_default_site; then replaced_sites+=(default); fi" in step
    assert "replaced_sites=()" in step  # nothing else: not default whatever it holds
    nginx = tmp_path / "nginx"
    (nginx / "sites-available").mkdir(parents=True)
    (nginx / "sites-enabled").mkdir()
    (nginx / "sites-available/default").write_text(WORDPRESS if changed else DEFAULT.read_text())
    (nginx / "sites-enabled/default").symlink_to("/etc/nginx/sites-available/default")
    (tmp_path / "check").write_text(PACKAGE_DEFAULTS + "debian_default_site\n")
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                           f"mount --bind {nginx} /etc/nginx && bash {tmp_path}/check"], capture_output=True, text=True)
    assert done.returncode == (1 if changed else 0), done.stderr


def test_debian_s_default_site_serving_the_operator_s_pages_stops_the_up(tmp_path: Path) -> None:
    """Round 32: the package's default site, unchanged, serves /var/www/html: an index.html there is the
    operator's site, which went dark when the default site was turned off."""
    done = preflight(tmp_path, plan(), html={"index.html": "<h1>Our shop</h1>\n"})
    assert done.returncode == 1
    assert "sites-enabled/default is not Debian's own" in done.stderr and "/var/www/html" in done.stderr
    assert preflight(tmp_path / "2", plan(replaces=("default",)), html={"index.html": "x"}).returncode == 0
    linked = preflight(tmp_path / "3", plan(), html={"index.html": "x"}, html_linked=True)  # round 33
    assert linked.returncode == 1 and "sites-enabled/default is not Debian's own" in linked.stderr


CADDY_OWN = Path("/etc/caddy/Caddyfile")


def caddy_package_file() -> str | None:
    """The caddy package's own Caddyfile on this machine, if it is installed and its file unchanged."""
    listed = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}\n", "caddy"], capture_output=True, text=True).stdout
    sums = dict(line.split()[:2] for line in listed.splitlines() if line.strip())
    if not CADDY_OWN.is_file() or str(CADDY_OWN) not in sums:
        return None
    text = CADDY_OWN.read_text()
    return text if hashlib.md5(text.encode()).hexdigest() == sums[str(CADDY_OWN)] else None


STATIC_SITE = "shop.example.org {\n\troot * /var/www/shop\n\tphp_fastcgi unix//run/php/php-fpm.sock\n\tfile_server\n}\n"


def test_a_caddyfile_of_the_operator_s_stops_the_up_unless_replaced(tmp_path: Path) -> None:
    """Round 32: a Caddyfile that served a static site or a PHP app (no stack hostname, no reverse_proxy) was
    replaced whole on the first up, the pre-flight passing."""
    done = preflight(tmp_path, plan("caddy"), caddyfile=STATIC_SITE)
    assert done.returncode == 1
    assert "/etc/caddy/Caddyfile is not Caddy's own" in done.stderr
    assert "set systems.shop.hosts.box.proxy.replaces: [Caddyfile]" in done.stderr
    # replaced, it is still refused while it serves a name the stack does not
    done = preflight(tmp_path / "2", plan("caddy", ("Caddyfile",)), caddyfile=STATIC_SITE)
    assert done.returncode == 1 and "also serves shop.example.org" in done.stderr


@pytest.mark.parametrize(("what", "caddyfile", "said"), [
    ("every name on a port", ":80 {\n\troot * /var/www/html\n\tfile_server\n}\n", "serves every name at :80"),
    ("a wildcard", "*.example.org {\n\trespond ok\n}\n", "serves every name at *.example.org"),
    ("sites it imports", "import /etc/caddy/sites/*\napi.example.org {\n\treverse_proxy :5000\n}\n",
     "imports other files"),
    # round 33: what the site-block reading cannot see is refused, never passed
    ("a site without braces", "blog.example.org\nroot * /srv/blog\nfile_server\n", "not site blocks"),
    ("addresses over two lines", "blog.example.org,\napi.example.org {\n\trespond ok\n}\n", "not site blocks"),
])
def test_a_replaced_caddyfile_serving_more_than_the_stack_s_names_stops_the_up(tmp_path: Path, what: str,
                                                                               caddyfile: str, said: str) -> None:
    done = preflight(tmp_path, plan("caddy", ("Caddyfile",)), caddyfile=caddyfile)
    assert done.returncode == 1, what
    assert said in done.stderr, done.stderr


@pytest.mark.skipif(caddy_package_file() is None, reason="needs the caddy package, its Caddyfile unchanged")
def test_caddy_s_own_caddyfile_is_no_conflict(tmp_path: Path) -> None:
    done = preflight(tmp_path, plan("caddy"), caddyfile=caddy_package_file())
    assert done.returncode == 0, done.stderr


NGINX_ORG = ("user www-data;\nevents { worker_connections 64; }\n"
             "http {\n    include /etc/nginx/conf.d/*.conf;\n}\n")
DEBIAN_LIKE = ("user www-data;\nevents { worker_connections 64; }\n"
               "http {\n    include /etc/nginx/conf.d/*.conf;\n    include /etc/nginx/sites-enabled/*;\n}\n")
# Long, as a real host's is: nginx -T prints it after the line the checks look for, so a grep -q that stops
# there ends nginx -T by SIGPIPE (which pipefail counted as a failure: round 32, found on the real host).
STACKYARD_SITE = ("server {\n    listen 127.0.0.1:8089;\n    server_name api.example.org;\n    return 204;\n}\n"
                  + "# a long site\n" * 40000)


def nginx_with(tmp: Path, conf: str, script: str) -> subprocess.CompletedProcess:
    """``script`` run by bash where /etc/nginx is a scratch copy holding ``conf`` as nginx.conf and stackyard's
    site enabled, and the real nginx of this machine."""
    nginx = tmp / "nginx"
    for directory in ("sites-available", "sites-enabled", "conf.d"):
        (nginx / directory).mkdir(parents=True)
    (nginx / "nginx.conf").write_text(conf)
    (nginx / "sites-available/stackyard.conf").write_text(STACKYARD_SITE)
    (nginx / "sites-enabled/stackyard.conf").symlink_to("/etc/nginx/sites-available/stackyard.conf")
    (tmp / "script").write_text(script)
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c",
                           f"mount --bind {nginx} /etc/nginx && bash {tmp}/script"],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx")
def test_an_nginx_that_would_not_load_stackyard_s_site_stops_the_up_and_the_proxy_step(tmp_path: Path) -> None:
    """Round 32: with nginx.org's nginx.conf (conf.d/ only), nginx -t passed, the replaced sites were moved
    out and stackyard's site never loaded: their names were served by nothing, the up green."""
    from components.render.provision import nginx_setup_script

    script = preflight_script(plan())
    done = nginx_with(tmp_path / "org", NGINX_ORG, script)
    assert done.returncode == 1 and "nginx.conf includes no /etc/nginx/sites-enabled/" in done.stderr, done.stderr
    assert "includes no" not in nginx_with(tmp_path / "debian", DEBIAN_LIKE, script).stderr
    # The proxy step's own check, after nginx -t, as it is rendered: the real nginx -T, on both configurations.
    step = nginx_setup_script([], tls="internal", email=None, site="", bootstrap="", upstreams={})
    lines = step.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("loaded=$(nginx -T"))
    assert lines[start + 1].startswith("if ! grep"), lines[start:start + 2]
    probe = "set -euo pipefail\n" + "\n".join(lines[start:start + 2]) + "\n  echo missing; exit 1\nfi\necho loaded\n"
    assert nginx_with(tmp_path / "org2", NGINX_ORG, probe).stdout.strip() == "missing"
    assert nginx_with(tmp_path / "debian2", DEBIAN_LIKE, probe).stdout.strip() == "loaded"
    # round 33: an include relative to /etc/nginx is an include all the same
    relative = DEBIAN_LIKE.replace("include /etc/nginx/sites-enabled/*;", "include sites-enabled/*;")
    assert "includes no" not in nginx_with(tmp_path / "relative", relative, script).stderr
    assert nginx_with(tmp_path / "relative2", relative, probe).stdout.strip() == "loaded"


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx")
@pytest.mark.parametrize("where", ["conf.d/bucket.conf", "nginx.conf", None, "stackyard's own, from the last run"])
def test_the_names_bucket_is_set_once_wherever_the_operator_set_it(where: str | None, tmp_path: Path) -> None:
    """Round 37: set in a conf.d file of the operator's, stackyard's line made it twice, nginx refused every
    site, and the rollback left the file: the next reload or boot took every site down."""
    from components.render.provision import NAMES_CONF, server_names

    conf, files = DEBIAN_LIKE, ""
    if where == "nginx.conf":
        conf = DEBIAN_LIKE.replace("http {\n", "http {\n    server_names_hash_bucket_size 128;\n")
    elif where == "conf.d/bucket.conf":
        files = "echo 'server_names_hash_bucket_size 128;' > /etc/nginx/conf.d/bucket.conf\n"
    elif where is not None:
        files = f"echo 'server_names_hash_bucket_size 64;' > {NAMES_CONF}\n"
    script = ("set -euo pipefail\n" + files + server_names(["a-rather-long-name-of-fifty-characters.example.org"])
              + f"nginx -t -q && echo valid\nif [ -e {NAMES_CONF} ]; then echo ours; fi\n")
    done = nginx_with(tmp_path, conf, script)
    assert "valid" in done.stdout.split(), done.stderr
    assert ("ours" in done.stdout.split()) == (where in (None, "stackyard's own, from the last run")), done.stdout
