"""Every generated artifact, checked by the real tool for its format.

shellcheck for scripts, `nginx -t` in a scratch prefix with self-signed certs made here,
`caddy validate`, `systemd-analyze verify`, `docker compose config`, and Node for PM2 files.
A missing tool is a visible skip naming the package that provides it (`make deps` installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.render_samples import seed_plans

from components.model.host_layout import COLORS, Paths
from components.render import provision
from components.render.acme import AcmeClient
from components.render.backups import Offsite, backup_script, restore_script
from components.render.deploy import deploy_script, removal_script
from components.render.docker import DockerPlan, extra_hosts, install_script, network_script
from components.render.logs import logrotate_config
from components.render.proxy import caddyfile, nginx_bootstrap_site, nginx_site, upstream_file
from components.render.runtimes import runtime_of
from components.render.runtimes.compose import compose_file
from components.render.runtimes.pm2 import pm2_ecosystem, pm2_unit
from components.render.runtimes.systemd import systemd_unit, systemd_unit_name
from components.render.watchdog import watchdog_script, watchdog_units


def tool(name: str, package: str):
    path = shutil.which(name)
    return pytest.mark.skipif(path is None, reason=f"{name} is not installed (Debian package {package})")


def compose_command() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


def all_scripts() -> dict[str, str]:
    plans = seed_plans()
    scripts = {}
    for kind, proxy in (("compose", "caddy"), ("pm2", "nginx"), ("systemd", "nginx")):
        for plan in plans[kind]:
            scripts[f"deploy-{plan.name}"] = deploy_script(plan, proxy)
            scripts[f"remove-{plan.name}"] = removal_script(plan, proxy)
            scripts[f"user-{plan.name}"] = provision.service_user_script(plan)
            if plan.port is not None:
                scripts[f"watchdog-{plan.name}"] = watchdog_script(
                    replace(plan, watchdog_paths=("/health", "/docs")))
    scripts["deploy-no-proxy"] = deploy_script(plans["systemd"][0], None)
    for kind in ("pm2", "systemd"):  # the release phase's own shell (components/render/shell/release.sh)
        scripts[f"deploy-{kind}-release-phase"] = deploy_script(replace(
            plans[kind][0], release=(".venv/bin/python manage.py migrate --noinput", "echo 'done'"),
            secret_env_keys=("DATABASE_URL", "SECRET_KEY")), "nginx")
    scripts["base-deploy-user"] = provision.base_script(ssh_port=22, ufw=True, login_user="deploy")
    scripts["base-root"] = provision.base_script(ssh_port=2222, ufw=False, login_user="root")
    scripts["base-restricted-ssh"] = provision.base_script(
        ssh_port=2222, ufw=True, login_user="deploy", open_ports=(80, 443, 8080),
        ssh_allow_from=["203.0.113.0/24", "2001:db8::/32"])
    for packages in ("distribution", "docker"):
        docker = DockerPlan(packages=packages)
        scripts[f"runtimes-all-{packages}"] = provision.runtime_script(
            {"python", "node"}, {"systemd", "pm2", "compose"},
            install_script(docker) + network_script(docker, ports=[3000, 3001], proxy="caddy", ufw=True))
    scripts["runtimes-python"] = provision.runtime_script({"python"}, {"systemd"})
    accessories = {"mysql": {"database": "productivity", "user": "productivity"}, "redis": {},
                   "postgresql": {"database": "app", "user": "app"}}
    scripts["accessories"] = provision.accessories_script(accessories)
    scripts["backup"] = backup_script(keep=7, directory="/var/backups/stackyard",
                                      paths_to_archive=["/srv/mivaa/shared"], accessories=accessories)
    offsite = Offsite(repository="s3:https://fsn1.your-objectstorage.com/backups/mivaa", keep=14)
    scripts["backup-offsite"] = backup_script(keep=7, directory="/var/backups/stackyard", paths_to_archive=[],
                                              accessories=accessories, offsite=offsite)
    scripts["restore"] = restore_script(directory="/var/backups/stackyard", accessories=accessories)
    scripts["restore-offsite"] = restore_script(directory="/var/backups/stackyard", accessories=accessories,
                                                offsite=offsite)
    nginx_plans = plans["pm2"] + plans["systemd"]
    hostnames = [h for p in nginx_plans for h in p.hostnames]
    for tls in ("letsencrypt", "internal"):
        scripts[f"nginx-setup-{tls}"] = provision.nginx_setup_script(
            hostnames, tls=tls, email="ops@example.com",
            site=nginx_site(nginx_plans, tls=tls, security_headers=True, static={}),
            bootstrap=nginx_bootstrap_site(hostnames),
            upstreams={Paths().upstream(p.name, "nginx"): upstream_file(p, "nginx") for p in nginx_plans if p.port},
            static=["/var/www/site"])
    scripts["caddy-setup"] = provision.caddy_setup_script(
        caddyfile(plans["compose"], email="ops@mehko.ai", tls="letsencrypt", security_headers=True, static={}),
        {Paths().upstream(p.name, "caddy"): upstream_file(p, "caddy") for p in plans["compose"]},
        static=["/var/www/site"])
    scripts["write-file"] = "#!/bin/sh\n" + provision.write_file_command("/etc/stackyard/x.env") + "\n"
    return scripts


@tool("shellcheck", "shellcheck")
@pytest.mark.parametrize("name", sorted(all_scripts()))
def test_script_passes_shellcheck(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.sh"
    path.write_text(all_scripts()[name])
    result = subprocess.run(["shellcheck", "--severity=style", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@tool("shellcheck", "shellcheck")
def test_shellcheck_does_flag_a_bad_script(tmp_path: Path) -> None:
    path = tmp_path / "bad.sh"
    path.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n")
    assert subprocess.run(["shellcheck", str(path)], capture_output=True).returncode != 0


def scratch_paths(root: Path) -> Paths:
    return Paths(srv=str(root / "srv"), etc=str(root / "etc"), systemd=str(root / "systemd"),
                 certs=str(root / "certs"), acme_root=str(root / "acme"))


def self_signed(paths: Paths, hostnames: list[str]) -> None:
    for hostname in hostnames:
        live = Path(paths.certs) / hostname
        live.mkdir(parents=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", f"/CN={hostname}", "-keyout", str(live / "privkey.pem"),
                        "-out", str(live / "fullchain.pem")], check=True, capture_output=True)


def nginx_test(root: Path, site: str) -> subprocess.CompletedProcess:
    (root / "site.conf").write_text(site)
    (root / "nginx.conf").write_text(
        f"pid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n    include {root}/site.conf;\n}}\n")
    return subprocess.run(["nginx", "-t", "-p", str(root), "-c", str(root / "nginx.conf")],
                          capture_output=True, text=True)


@tool("nginx", "nginx")
@tool("openssl", "openssl")
@pytest.mark.parametrize("color", COLORS)
def test_nginx_site_passes_nginx_t(tmp_path: Path, color: str) -> None:
    paths = scratch_paths(tmp_path)
    pm2, systemd = seed_plans(paths)["pm2"], seed_plans(paths)["systemd"]
    # seed 004's MIVAA: PDF uploads, long AI calls, 50 requests a minute
    plans = [*pm2, replace(systemd[0], max_body_size="50MB", read_timeout=300, rate_limit=(50, 60))]
    Path(paths.etc, "upstreams").mkdir(parents=True)
    for plan in plans:
        if plan.port:
            Path(paths.upstream(plan.name, "nginx")).write_text(upstream_file(plan, "nginx", color))
    static = {"www.productivity.example.com": str(tmp_path / "static")}
    self_signed(paths, [h for p in plans for h in p.hostnames] + list(static))
    site = nginx_site(plans, tls="letsencrypt", security_headers=True, static=static, paths=paths,
                      csp="default-src 'self'")
    result = nginx_test(tmp_path, site)
    assert result.returncode == 0, result.stderr
    assert site.startswith("limit_req_zone $binary_remote_addr zone=stackyard_mivaa:10m rate=50r/m;")
    assert site.count("limit_req zone=stackyard_mivaa burst=50 nodelay;") == len(plans[-1].hostnames)
    assert "client_max_body_size 50m;" in site and "proxy_read_timeout 300s;" in site
    assert "client_max_body_size 10m;" in site and "proxy_read_timeout 60s;" in site  # the defaults
    assert 'add_header Content-Security-Policy "default-src \'self\'" always;' in site
    assert 'add_header X-XSS-Protection "1; mode=block" always;' in site
    assets = site[site.index("location /assets/"):]
    assert 'Cache-Control "public, max-age=31536000, immutable"' in assets
    assert "X-Frame-Options" in assets  # repeated: add_header in a location drops the server's
    assert "upstream stackyard_mivaa" in Path(paths.upstream("mivaa", "nginx")).read_text()
    assert 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;' in site
    assert "listen 127.0.0.1:8000;" in site  # the stable loopback port of the service


@tool("nginx", "nginx")
def test_nginx_bootstrap_site_passes_and_nginx_t_rejects_missing_certs(tmp_path: Path) -> None:
    assert nginx_test(tmp_path, nginx_bootstrap_site(["a.example.com"])).returncode == 0
    paths = scratch_paths(tmp_path)
    plans = seed_plans(paths)["systemd"]
    Path(paths.etc, "upstreams").mkdir(parents=True)
    Path(paths.upstream("mivaa", "nginx")).write_text(upstream_file(plans[0], "nginx"))
    site = nginx_site(plans, tls="letsencrypt", security_headers=True, static={}, paths=paths)
    result = nginx_test(tmp_path, site)  # no certificates made: nginx must refuse
    assert result.returncode != 0 and "fullchain.pem" in result.stderr


@tool("caddy", "caddy")
@pytest.mark.parametrize("tls", ["letsencrypt", "internal"])
def test_caddyfile_passes_caddy_validate(tmp_path: Path, tls: str) -> None:
    paths = scratch_paths(tmp_path)
    plans = seed_plans(paths)["compose"]
    Path(paths.etc, "upstreams").mkdir(parents=True)
    for plan in plans:
        Path(paths.upstream(plan.name, "caddy")).write_text(upstream_file(plan, "caddy"))
    plans = [replace(plans[0], max_body_size="50MB"), *plans[1:]]
    text = caddyfile(plans, email="ops@mehko.ai", tls=tls, security_headers=True,
                     static={"www.mehko.ai": str(tmp_path)}, paths=paths, csp="default-src 'self'")
    assert "max_size 50MB" in text and "max_size 10MB" in text
    assert "Content-Security-Policy \"default-src 'self'\"" in text and 'X-XSS-Protection "1; mode=block"' in text
    assert 'header @assets Cache-Control "public, max-age=31536000, immutable"' in text
    (tmp_path / "Caddyfile").write_text(text)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(["caddy", "validate", "--adapter", "caddyfile", "--config", str(tmp_path / "Caddyfile")],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    adapted = subprocess.run(["caddy", "adapt", "--adapter", "caddyfile", "--config", str(tmp_path / "Caddyfile")],
                             capture_output=True, text=True, env=env, check=True)
    config = json.loads(adapted.stdout)
    dials = json.dumps(config["apps"]["http"])
    assert "127.0.0.1:4001" in dials and "127.0.0.1:4000" in dials  # blue slots of api-gateway, ai-server


@tool("caddy", "caddy")
def test_a_caddyfile_of_a_private_acme_ca_passes_caddy_validate_with_its_roots(tmp_path: Path) -> None:
    """`acme_ca_root` is read when the config loads: the setup script writes the roots before it validates."""
    paths = scratch_paths(tmp_path)
    root = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                           "-subj", "/CN=private ACME root", "-keyout", "/dev/null"], capture_output=True, text=True,
                          check=True).stdout
    acme = AcmeClient("https://ca.internal.example:14000/dir", root)
    text = caddyfile([], email="ops@mehko.ai", tls="letsencrypt", security_headers=False,
                     static={"www.mehko.ai": str(tmp_path)}, paths=paths, acme=acme)
    assert "\tacme_ca https://ca.internal.example:14000/dir\n" in text
    assert f"\tacme_ca_root {paths.etc}/acme-ca-root.pem\n" in text
    Path(paths.etc).mkdir(parents=True, exist_ok=True)
    subprocess.run(["bash", "-c", "set -euo pipefail\n" + acme.install_for_caddy(paths)], check=True)
    assert Path(paths.etc, "acme-ca-root.pem").stat().st_mode & 0o777 == 0o644
    (tmp_path / "Caddyfile").write_text(text)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(["caddy", "adapt", "--validate", "--adapter", "caddyfile", "--config",
                             str(tmp_path / "Caddyfile")], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    issuer = json.loads(result.stdout)["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]
    assert issuer["ca"] == acme.directory
    assert issuer["trusted_roots_pem_files"] == [f"{paths.etc}/acme-ca-root.pem"]


@tool("systemd-analyze", "systemd")
@pytest.mark.parametrize("color", COLORS)
def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path, color: str) -> None:
    plans = [seed_plans()["systemd"][0]]
    worker = seed_plans()["pm2"][1]
    plans.append(type(worker)(**{**worker.__dict__, "runtime": "systemd"}))
    checked = 0
    for plan in plans:
        unit = systemd_unit(plan, color)
        for instance in plan.instances_of(color):
            name = systemd_unit_name(plan, color).replace("@", f"@{instance}") if plan.port else \
                systemd_unit_name(plan, color)
            (tmp_path / name).write_text(unit)
            result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / name)], capture_output=True,
                                    text=True)
            assert result.returncode == 0, result.stderr
            checked += 1
        assert "EnvironmentFile=/etc/stackyard/" in unit and "TimeoutStopSec=30" in unit
        assert "Restart=always" in unit and f"User={plan.user}" in unit
    assert checked == 4


@tool("logrotate", "logrotate")
@pytest.mark.parametrize("rotate", ["daily", "size"])
def test_logrotate_config_passes_logrotate_debug(tmp_path: Path, rotate: str) -> None:
    plan = replace(seed_plans()["pm2"][0], log_files=("/var/log/flask/app.log",), log_rotate=rotate, log_size="50MB",
                   log_keep=7)
    config = logrotate_config(plan)
    assert config.splitlines()[1].split() == ["/var/log/flask/app.log",
                                              f"{plan.paths.pm2_home(plan.name, '*')}/logs/*.log", "{"]
    assert ("size 50M" if rotate == "size" else "daily") in config and "rotate 7" in config
    assert "copytruncate" in config and f"su {plan.user} {plan.user}" in config
    # Its user exists only on a provisioned host: checked here as root, on the host by the e2e tier.
    (tmp_path / "stackyard").write_text(config.replace(f"su {plan.user} {plan.user}", "su root root"))
    result = subprocess.run(["logrotate", "--debug", "--state", str(tmp_path / "state"), str(tmp_path / "stackyard")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "error" not in result.stderr.lower(), result.stderr
    assert logrotate_config(replace(seed_plans()["systemd"][0], log_files=())) is None  # journald rotates its own


@tool("systemd-analyze", "systemd")
def test_watchdog_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    paths = scratch_paths(tmp_path)
    plan = replace(seed_plans()["systemd"][0], paths=paths, watchdog_paths=("/health",), watchdog_interval=7)
    script = Path(paths.app(plan.name)) / "watchdog"
    script.parent.mkdir(parents=True)
    script.write_text(watchdog_script(plan))
    script.chmod(0o700)
    units = watchdog_units(plan)
    for name, text in units.items():
        (tmp_path / name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / name) for name in units)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    timer = units[f"{plan.unit}-watchdog.timer"]
    assert "OnUnitActiveSec=7" in timer and "AccuracySec=1s" in timer


@tool("systemd-analyze", "systemd")
def test_pm2_boot_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    for plan in seed_plans()["pm2"]:
        # The template, verified as one slot's instance of it (systemd-analyze loads no bare template).
        path = tmp_path / f"{plan.unit}-pm2@blue.service"
        path.write_text(pm2_unit(plan))
        result = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert f"PM2_HOME=/var/lib/stackyard/{plan.name}/pm2/%i\n" in path.read_text()
        assert f"PIDFile=/var/lib/stackyard/{plan.name}/pm2/%i/pm2.pid\n" in path.read_text()


@tool("systemd-analyze", "systemd")
def test_systemd_analyze_rejects_a_broken_unit(tmp_path: Path) -> None:
    (tmp_path / "broken.service").write_text("[Service]\nExecStart=relative/path\n")
    assert subprocess.run(["systemd-analyze", "verify", str(tmp_path / "broken.service")],
                          capture_output=True).returncode != 0


NASTY = "p$ss${HOME}w'o\"rd\\ \ttab\nsecond line\n-----END KEY-----\n é日本 `id` $(id) %i"
"""A secret that every env file format must carry as it is."""


@pytest.mark.skipif(compose_command() is None, reason="docker compose plugin missing (`make deps` builds it)")
@pytest.mark.parametrize("color", COLORS)
def test_compose_files_pass_docker_compose_config(tmp_path: Path, color: str) -> None:
    plans = seed_plans(Paths(etc=str(tmp_path)))["compose"]
    hosts = extra_hosts(plans, DockerPlan())
    env = {**os.environ, "STACKYARD_SERVICE_GID": "997"}
    for plan in plans:
        context = tmp_path / plan.build_context
        context.mkdir(parents=True, exist_ok=True)
        (context / plan.dockerfile).write_text("FROM scratch\n")
        # A secret with a $ in it reaches the container as it is: compose must not interpolate it; nor mangle
        # a newline, a tab, a backslash or non-ASCII text.
        slot = Path(plan.paths.slot(plan.name, color))
        slot.mkdir(parents=True, exist_ok=True)
        (slot / "env").write_text(runtime_of("compose").env_file({"A": "b", "TOKEN": NASTY}))
        path = tmp_path / f"{plan.name}.{color}.yml"
        path.write_text(compose_file(plan, color, mounts=["/run/secrets/key.json"], hosts=hosts))
        result = subprocess.run([*compose_command(), "--project-directory", str(tmp_path), "--file", str(path),
                                 "config", "--format", "json"], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        config = json.loads(result.stdout)
        assert config["networks"]["stackyard"]["external"] is True
        for i, (name, service) in enumerate(sorted(config["services"].items())):
            assert name == f"{plan.name}-{i}"
            published = service["ports"][0]
            assert published["host_ip"] == "127.0.0.1"
            assert int(published["published"]) == plan.slot_ports(color)[i]
            assert service["build"]["context"] == str(context)
            # `config` prints a literal $ as $$ (so that its output reads back the same): not expanded.
            assert service["environment"]["TOKEN"] == NASTY.replace("$", "$$")
            assert service["environment"]["PORT"] == str(plan.port)
            assert service["group_add"] == ["997"]
            assert service["volumes"][0]["read_only"] is True
            assert set(service["networks"]) == {"stackyard"}
            assert sorted(service["extra_hosts"]) == sorted(
                f"{p.name}=172.30.255.1" for p in plans)  # compose prints name=address
            probe = service["healthcheck"]["test"]
            assert probe[0] == "CMD-SHELL" and f"http://127.0.0.1:{plan.port}{plan.health_path}" in probe[1]
    # Without the deploy's group the file is refused, rather than mounting secrets nobody can read.
    env.pop("STACKYARD_SERVICE_GID")
    result = subprocess.run([*compose_command(), "--project-directory", str(tmp_path), "--file", str(path),
                             "config"], capture_output=True, text=True, env=env)
    assert result.returncode != 0 and "set by the deploy script" in result.stderr


@tool("node", "nodejs")
@pytest.mark.parametrize("color", COLORS)
def test_pm2_ecosystem_files_load_in_node(tmp_path: Path, color: str) -> None:
    for plan in seed_plans(Paths(etc=str(tmp_path)))["pm2"]:
        slot = Path(plan.paths.slot(plan.name, color))
        slot.mkdir(parents=True, exist_ok=True)
        values = {"DATABASE_URL": 'mysql://u:p"w@127.0.0.1/db', "TOKEN": NASTY}
        (slot / "env").write_text(runtime_of("pm2").env_file(values))
        path = tmp_path / f"ecosystem.{plan.name}.{color}.config.js"
        path.write_text(pm2_ecosystem(plan, color))
        script = f"const m = require({json.dumps(str(path))}); console.log(JSON.stringify(m.apps));"
        result = subprocess.run(["node", "-e", script], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        apps = json.loads(result.stdout)
        assert [a["name"] for a in apps] == [f"{plan.name}-{color}-0"]
        assert apps[0]["env"]["DATABASE_URL"] == 'mysql://u:p"w@127.0.0.1/db'  # read from the slot's file
        assert apps[0]["env"]["TOKEN"] == NASTY
        assert apps[0]["kill_timeout"] == 30000
        if plan.port:
            assert apps[0]["env"]["PORT"] == str(plan.slot_ports(color)[0])
        assert "DATABASE_URL" not in path.read_text()


@tool("shellcheck", "shellcheck")
def test_every_step_script_of_the_production_stack_passes_shellcheck(tmp_path: Path) -> None:
    """The scripts `pulumi up` would send, as recorded under mocks: base, runtimes, accessories,
    proxy, backups and each service's user, setup (units + deploy script) steps."""
    from helpers.harness import canary_secrets, production_config, run_program

    config = production_config()
    run = run_program(config, canary_secrets(config))
    scripts = {r.name: r.inputs["stdin"] for r in run.of_type("command:remote:Command")
               if r.wire.get("logging") != "none" and "stdin" in r.inputs}
    # preflight, base, runtimes, accessories, proxy, certificates, backups, users, setups
    assert len(scripts) == 3 + 3 + 3 + 1 + 3 + 3 + 2 + 6 + 6
    for name, script in scripts.items():
        path = tmp_path / f"{name}.sh"
        path.write_text(script)
        result = subprocess.run(["shellcheck", "--shell=bash", "--severity=style", str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, f"{name}:\n{result.stdout}"


def sshd_drop_in(script: str) -> str:
    """The sshd drop-in a base script writes, as it would land in /etc/ssh/sshd_config.d/."""
    start = script.index("cat > /etc/ssh/sshd_config.d/01-stackyard.conf.new <<'EOF'\n")
    body = script[script.index("\n", start) + 1:]
    return body[:body.index("\nEOF\n") + 1]


@pytest.mark.skipif(not Path("/usr/sbin/sshd").exists() or os.geteuid() != 0,
                    reason="sshd -T needs Debian's openssh-server (make system-deps) and root")
@pytest.mark.parametrize("login_user", ["deploy", "root"])
def test_sshd_takes_stackyards_settings_over_cloud_inits(tmp_path: Path, login_user: str) -> None:
    # sshd keeps the first value it reads. Debian's and Ubuntu's sshd_config include the drop-ins on its
    # first line, and cloud-init's 50-cloud-init.conf may allow passwords: stackyard's must be read first.
    drop_ins = tmp_path / "sshd_config.d"
    drop_ins.mkdir()
    (drop_ins / "01-stackyard.conf").write_text(
        sshd_drop_in(provision.base_script(ssh_port=2222, ufw=True, login_user=login_user)))
    (drop_ins / "50-cloud-init.conf").write_text(
        "PasswordAuthentication yes\nPermitRootLogin yes\nKbdInteractiveAuthentication yes\n")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "host_key")], check=True)
    config = tmp_path / "sshd_config"
    config.write_text(f"Include {drop_ins}/*.conf\nHostKey {tmp_path}/host_key\nPasswordAuthentication yes\n")
    privsep = Path("/run/sshd")  # sshd -T refuses to run without it; Debian's unit makes it at boot
    made = not privsep.exists()
    privsep.mkdir(mode=0o755, exist_ok=True)
    try:
        result = subprocess.run(["/usr/sbin/sshd", "-T", "-f", str(config)], capture_output=True, text=True)
    finally:
        if made:
            privsep.rmdir()
    assert result.returncode == 0, result.stderr
    effective = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert effective["passwordauthentication"] == "no"
    assert effective["kbdinteractiveauthentication"] == "no"
    assert effective["permitrootlogin"] == ("no" if login_user == "deploy" else "without-password")
    assert effective["port"] == "2222"
    assert "ecdsa" not in effective["hostkeyalgorithms"] and "nistp" not in effective["kexalgorithms"]


@tool("nginx", "nginx")
@pytest.mark.parametrize("length", [46, 47, 64, 120, 253])
def test_a_long_hostname_beside_another_site_on_its_port_passes_nginx_t(tmp_path: Path, length: int) -> None:
    """nginx keeps server names in buckets of a cache line (64 bytes): with two servers on one port (a site
    stackyard replaces, the bootstrap beside it), a name of 47 characters or more made nginx refuse every
    site, and the bootstrap's reload and restart stopped nginx (round 29, on Debian's own nginx.conf).
    The proxy step writes the bucket size its longest hostname needs."""
    from components.render.provision import names_bucket

    labels = ["a" * 63] * ((length - 12) // 64) + ["b" * ((length - 12) % 64 or 1)]
    hostname = ".".join([*labels, "example.com"])[-length:].lstrip(".-")
    other = "server {\n    listen 80;\n    server_name legacy.example.com;\n    return 200;\n}\n"
    site = other + nginx_bootstrap_site([hostname])
    without = nginx_test(tmp_path, site)
    assert (without.returncode == 0) == (len(hostname) <= 46), without.stderr
    bucket = f"server_names_hash_bucket_size {names_bucket([hostname])};\n"
    result = nginx_test(tmp_path, bucket + site)
    assert result.returncode == 0, result.stderr


def test_the_bootstrap_site_is_checked_before_nginx_loads_it_and_taken_out_if_refused() -> None:
    from components.render.provision import nginx_setup_script

    script = nginx_setup_script(["a.example.com"], tls="letsencrypt", email=None, site="", bootstrap="b",
                                upstreams={})
    bootstrap = script[script.index("ln -sfn /etc/nginx/sites-available/stackyard.conf"):]
    check, reload = bootstrap.index("if ! nginx -t -q; then"), bootstrap.index("systemctl reload nginx")
    assert check < reload
    assert "rm -f /etc/nginx/sites-enabled/stackyard.conf" in bootstrap[check:reload]


@pytest.mark.parametrize("effective,ok", [("passwordauthentication no\nport 22\n", True),
                                          ("passwordauthentication yes\nport 22\n", False)])
def test_the_base_step_stops_when_sshd_does_not_take_its_settings(tmp_path: Path, effective: str, ok: bool) -> None:
    """A main sshd_config without the Include of sshd_config.d (kept through an upgrade), or with its own
    settings first: the hardening was never read, passwords stayed on, and the step said nothing (round
    29, `sshd -T` on such a config). The step asks sshd what it will run with."""
    script = provision.base_script(ssh_port=22, ufw=False, login_user="deploy")
    start = script.index("if effective=$(sshd -T")
    check = script[start:script.index("\nfi\n", start) + 4]
    (tmp_path / "sshd").write_text(f"#!/bin/bash\ncat <<'END'\n{effective}END\n")
    (tmp_path / "sshd").chmod(0o755)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", "conf=/etc/ssh/sshd_config.d/01-stackyard.conf\n" + check],
                          capture_output=True, text=True, env={"PATH": f"{tmp_path}:/usr/bin:/bin"})
    assert (done.returncode == 0) == ok, done.stderr
    if not ok:
        assert "must include /etc/ssh/sshd_config.d/*.conf" in done.stderr
