"""What the proxy accepts and adds, on the real host: body limits, a rate limit, security headers,
cached static assets. nginx is the local stack's own proxy; Caddy, which Debian 12 does not package,
runs as this machine's caddy binary copied onto the host, with the Caddyfile stackyard renders."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.workspace import make_tmp

from components.model.host_layout import Paths
from components.render.layout import ServicePlan
from components.render.proxy import CADDY_ADMIN, caddyfile
from local import FIGURES, LocalStack, local_host, local_stack

CSP = "default-src 'self'"
HEADERS = {"Strict-Transport-Security": "max-age=31536000; includeSubDomains", "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "DENY", "X-XSS-Protection": "1; mode=block",
           "Referrer-Policy": "strict-origin-when-cross-origin", "Content-Security-Policy": CSP}
IMMUTABLE = "public, max-age=31536000, immutable"


def get(hostname: str, path: str) -> tuple[int, dict[str, str]]:
    context = ssl.create_default_context(cafile=str(local_stack.certificate(hostname)))
    connection = local_stack.HostConnection(hostname, local_host.GUEST_IP, context, 10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


def upload(hostname: str, megabytes: int, tmp: Path) -> tuple[int, str]:
    """POSTs a body of that size with curl (which reads an early 413 while it is still sending)."""
    body = tmp / f"{megabytes}mb.bin"
    with body.open("wb") as out:
        out.truncate(megabytes * 1024 * 1024)
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "120", "--resolve", f"{hostname}:443:{local_host.GUEST_IP}",
         "--cacert", str(local_stack.certificate(hostname)), "--data-binary", f"@{body}",
         "-H", "Content-Type: application/octet-stream", "-w", "\n%{http_code}",
         f"https://{hostname}/upload"], capture_output=True, text=True)
    body.unlink()
    text, _, code = done.stdout.rpartition("\n")
    return int(code or 0), text


@pytest.fixture(scope="module")
def scratch() -> Path:
    return make_tmp("stackyard-e2e-proxy-")


def test_bodies_up_to_the_services_limit_pass_and_larger_ones_get_413(stack: LocalStack, scratch: Path) -> None:
    status, body = upload("flask.stackyard.test", 20, scratch)  # Flask allows 50MB
    assert status == 200 and json.loads(body)["received"] == 20 * 1024 * 1024, body
    assert upload("flask.stackyard.test", 60, scratch)[0] == 413
    assert upload("fastapi.stackyard.test", 11, scratch)[0] == 413  # FastAPI keeps the 10MB default


def test_every_answer_carries_the_security_headers_and_hashed_assets_are_cached(stack: LocalStack) -> None:
    stack.ssh("install -d /srv/static-sample/assets && echo '<h1>static</h1>' > /srv/static-sample/index.html"
              " && echo 'console.log(1)' > /srv/static-sample/assets/app.3f9a1c.js")
    asset = "/assets/app.3f9a1c.js"
    for hostname, path in (("fastapi.stackyard.test", "/health"), ("flask.stackyard.test", "/health"),
                           ("static.stackyard.test", "/index.html"), ("static.stackyard.test", asset)):
        status, headers = get(hostname, path)
        assert status == 200, (hostname, path)
        for name, value in HEADERS.items():
            assert headers.get(name) == value, (hostname, path, name, headers)
    assert get("static.stackyard.test", "/assets/app.3f9a1c.js")[1]["Cache-Control"] == IMMUTABLE
    assert "Cache-Control" not in get("static.stackyard.test", "/index.html")[1]


def test_the_rate_limit_answers_429_past_its_limit_and_200_under_it(stack: LocalStack) -> None:
    def limited(system: dict) -> None:
        system["services"]["fastapi-sample"]["limits"] = {"rateLimit": {"requests": 10, "window": 60}}

    stack.edit_system(limited)
    stack.up()
    try:
        started = time.monotonic()
        statuses = [get("fastapi.stackyard.test", "/health")[0] for _ in range(30)]
        seconds = time.monotonic() - started
        FIGURES.append(f"rate limit 10 per 60 s: 30 requests in {seconds:.1f} s answered "
                       f"{statuses.count(200)} x 200, {statuses.count(429)} x 429")
        assert statuses[:10] == [200] * 10  # under the limit (a window's worth at once)
        assert statuses.count(429) >= 30 - 11 - int(seconds / 6) - 1  # past it: 429 until the bucket drains
        assert set(statuses) == {200, 429}
        # Other services call it on its loopback port: not rate-limited.
        loopback = stack.ssh("for i in $(seq 30); do curl -s -o /dev/null -w '%{http_code} ' "
                             "http://127.0.0.1:8000/health; done").stdout.split()
        assert set(loopback) == {"200"}
    finally:
        stack.edit_system(lambda system: system["services"]["fastapi-sample"].pop("limits"))
        stack.up()


def test_caddy_sends_the_same_headers_and_enforces_the_body_limit(stack: LocalStack, scratch: Path) -> None:
    """The Caddyfile stackyard renders for these services, served by a real Caddy on the host."""
    root = "/tmp/caddy-e2e"
    paths = Paths(etc=root)
    plans = []
    for name, port, body in (("fastapi-sample", 8000, "10MB"), ("flask-sample", 5000, "50MB")):
        color = stack.ssh(f"cut -d' ' -f1 /srv/{name}/active").stdout.strip()
        plan = ServicePlan(name=name, runtime="systemd", repo="r", ref="main", port=port + 20000,
                           hostnames=(f"{name.split('-')[0]}.stackyard.test",), max_body_size=body, paths=paths)
        live = port + (1000 if color == "blue" else 2000)
        stack.ssh(f"install -d {root}/upstreams && echo 'reverse_proxy 127.0.0.1:{live}' > "
                  f"{paths.upstream(name, 'caddy')}")
        plans.append(plan)
    text = caddyfile(plans, email=None, tls="internal", security_headers=True, paths=paths, csp=CSP,
                     static={"static.stackyard.test": "/srv/static-sample"})
    # Beside nginx: other ports, no admin endpoint (not even stackyard's socket: /run/caddy-admin is the
    # packaged unit's RuntimeDirectory, and this Caddy is no unit of that package).
    text = text.replace(f"\tadmin {CADDY_ADMIN}\n", "").replace(
        "{\n", "{\n\thttp_port 8080\n\thttps_port 8443\n\tadmin off\n\tskip_install_trust\n", 1)
    stack.ssh(f"cat > {root}/Caddyfile", stdin=text)
    with open("/usr/bin/caddy", "rb") as binary:
        subprocess.run([*local_host.ssh_args(), f"root@{local_host.GUEST_IP}",
                        "cat > /usr/local/bin/caddy && chmod 0755 /usr/local/bin/caddy"], stdin=binary, check=True)
    stack.ssh(f"caddy validate --adapter caddyfile --config {root}/Caddyfile")
    stack.ssh(f"systemd-run --unit=stackyard-caddy-e2e --setenv=HOME={root} --setenv=XDG_DATA_HOME={root} "
              f"--setenv=XDG_CONFIG_HOME={root} caddy run --adapter caddyfile --config {root}/Caddyfile")
    try:
        for _ in range(60):
            if stack.ssh("ss -Hltn 'sport = :8443' | grep -q .", check=False).returncode == 0:
                break
            time.sleep(0.5)
        # From the host itself: its firewall lets only 22, 80 and 443 in.
        curl = (f"curl -sS --cacert {root}/caddy/pki/authorities/local/root.crt --resolve {{host}}:8443:127.0.0.1 "
                "https://{host}:8443{path}")
        for hostname, path in (("fastapi.stackyard.test", "/health"),
                               ("static.stackyard.test", "/assets/app.3f9a1c.js")):
            out = stack.ssh(curl.format(host=hostname, path=path).replace("curl -sS", "curl -sS -D - -o /dev/null"))
            lines = out.stdout.splitlines()
            headers = {key.lower(): value.strip() for key, _, value in (line.partition(":") for line in lines[1:])
                       if value}
            assert lines[0].split()[1] == "200", out.stdout
            for name, value in HEADERS.items():
                assert headers.get(name.lower()) == value, (hostname, name, out.stdout)
            assert "server" not in headers
        assert headers["cache-control"] == IMMUTABLE
        # Mozilla's "intermediate" profile, as sslyze measures it from this machine (the port let in for it).
        ca = scratch / "caddy-root.crt"
        ca.write_text(stack.ssh(f"cat {root}/caddy/pki/authorities/local/root.crt").stdout)
        stack.ssh("ufw insert 1 allow 8443/tcp >/dev/null")
        try:
            target = f"fastapi.stackyard.test:8443{{{local_host.GUEST_IP}}}"
            audit = subprocess.run([sys.executable, "-m", "sslyze", "--mozilla_config=intermediate",
                                    f"--certinfo_ca_file={ca}", target], capture_output=True, text=True, timeout=300)
        finally:
            stack.ssh("ufw delete allow 8443/tcp >/dev/null", check=False)
        verdict = [line.strip() for line in audit.stdout.splitlines() if "compliant" in line.lower()]
        FIGURES.append(f"sslyze fastapi.stackyard.test (Caddy) against Mozilla intermediate: {'; '.join(verdict)}")
        assert audit.returncode == 0 and any("OK - Compliant" in line for line in verdict), audit.stdout[-3000:]
        codes = {}
        for megabytes in (20, 60):
            sent = stack.ssh(
                f"truncate -s {megabytes}M {root}/body && "
                + curl.format(host="flask.stackyard.test", path="/upload").replace(
                    "curl -sS", f"curl -sS --http1.1 -o /dev/null -w '%{{http_code}}' --data-binary @{root}/body"),
                check=False)
            # curl 55/56: Caddy closed the connection while the body was still being sent.
            codes[megabytes] = "reset" if sent.returncode in (55, 56) else sent.stdout
            assert sent.returncode in (0, 55, 56), sent.stderr
        FIGURES.append(f"caddy {stack.ssh('caddy version').stdout.split()[0]} body limit 50MB: 20 MB answered "
                       f"{codes[20]}, 60 MB answered {codes[60]}")
        # Over the limit the body never reaches the app. Caddy 2.6 (Ubuntu 24.04's, and this machine's)
        # answers 502 then, as its proxy fails to read the cut body, or resets the connection before
        # curl has sent it all; later versions answer 413.
        assert codes[20] == "200" and codes[60] in ("413", "502", "reset"), codes
    finally:
        stack.ssh("systemctl stop stackyard-caddy-e2e; rm -rf /tmp/caddy-e2e /usr/local/bin/caddy", check=False)
