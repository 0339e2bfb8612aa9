"""Host provisioning under mocks: what each remote command gets, and when it runs again."""

from __future__ import annotations

import copy
import json
import re

import pytest
from helpers.harness import CANARY, SECRET_SIG, Run, canary_secrets, numeric_id, production_config, run_program, unwrap

COMMAND = "command:remote:Command"


@pytest.fixture(scope="module")
def production() -> Run:
    config = production_config()
    return run_program(config, canary_secrets(config))


def commands(run: Run) -> dict[str, dict]:
    return {r.name: r.wire for r in run.of_type(COMMAND)}


def changed(before: Run, after: Run) -> set[str]:
    """Names of the commands whose inputs differ between two runs: what `pulumi up` would run."""
    old, new = commands(before), commands(after)
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


def test_secrets_reach_hosts_only_on_stdin_of_unlogged_commands(production: Run) -> None:
    carrying = 0
    for reg in production.of_type(COMMAND):
        wire = reg.wire
        assert "environment" not in wire, reg.name  # sshd drops env without AcceptEnv, into the command line
        assert CANARY not in json.dumps(wire.get("create", "")), reg.name
        assert CANARY not in json.dumps(wire.get("triggers", [])), reg.name
        if CANARY in json.dumps(wire.get("stdin", "")):
            carrying += 1
            assert SECRET_SIG in wire["stdin"], reg.name
            assert wire["logging"] == "none", reg.name
            assert "umask 077" in wire["create"], reg.name
            # Env files are root's alone (the deploy copies them into the slot it starts); secret files are
            # root's, read through the service's group (its build copies them, containers get the group)
            grouped = "-file-" in reg.name
            assert ("chmod 0640" if grouped else "chmod 0600") in wire["create"], reg.name
            if grouped:
                assert "chown root:svc-" in wire["create"], reg.name
    # the env files of the 4 services with secrets, the 2 taken-over servers' passwords, the Firebase key
    # file, the off-site backups' restic password and S3 keys
    assert carrying == 10
    env_writes = [r for r in production.of_type(COMMAND) if r.name.endswith("-env")]
    assert len(env_writes) == 6  # every env file is written the same way, secret or not
    assert all(r.wire["logging"] == "none" and SECRET_SIG in r.wire["stdin"] for r in env_writes)


def test_env_files_hold_configured_and_generated_secrets(production: Run) -> None:
    env = production.named("productivity-app-setup-flask-backend-env").inputs["stdin"]
    # the productivity server's MySQL and Redis are taken over with the passwords the app has today
    assert f'MYSQL_PASSWORD="{CANARY}-productivityMysqlPassword"' in env
    assert f'REDIS_PASSWORD="{CANARY}-productivityRedisPassword"' in env
    assert 'REDIS_URL="redis://127.0.0.1:6379/0"' in env
    # ... and servers stackyard installs get generated ones
    config = copy.deepcopy(production_config())
    config["stackyard:systems"]["productivity"]["hosts"]["app"]["accessories"] = {
        "mysql": {"database": "productivity", "user": "productivity"}, "redis": {}}
    generated = run_program(config, canary_secrets(config))
    env = generated.named("productivity-app-setup-flask-backend-env").inputs["stdin"]
    assert f'MYSQL_PASSWORD="{CANARY}-generated-productivity-app-setup-mysql-password"' in env
    assert f'REDIS_PASSWORD="{CANARY}-generated-productivity-app-setup-redis-password"' in env
    # the connection values come from the accessory as the stack names it (production: host, user, database)
    assert 'MYSQL_HOST="127.0.0.1"' in env and 'MYSQL_USER="productivity"' in env
    assert 'MYSQL_DATABASE="productivity"' in env
    mivaa = production.named("material-kai-mivaa-setup-mivaa-env").inputs
    assert f'OPENAI_API_KEY="{CANARY}-openaiApiKey"' in mivaa["stdin"]
    assert "/etc/stackyard/mivaa.env" in mivaa["create"]


def test_a_connection_url_reaches_the_env_file_as_a_secret_with_its_password_encoded() -> None:
    config = copy.deepcopy(production_config())
    productivity = config["stackyard:systems"]["productivity"]
    productivity["services"]["flask-backend"]["env"].update(
        DATABASE_URL={"accessory": "mysql", "output": "url"}, CACHE_URL={"accessory": "redis", "output": "url"})
    secrets = canary_secrets(config)
    secrets["productivityMysqlPassword"] = f"{CANARY}@:/?#%"
    run = run_program(config, secrets)
    setup = run.named("productivity-app-setup-flask-backend-env")
    stdin = setup.inputs["stdin"]
    assert f'DATABASE_URL="mysql://productivity:{CANARY}%40%3A%2F%3F%23%25@127.0.0.1:3306/productivity"' in stdin
    assert f'CACHE_URL="redis://:{CANARY}-productivityRedisPassword@127.0.0.1:6379/0"' in stdin
    assert SECRET_SIG in setup.wire["stdin"]  # the URL holds the password: a secret all the way
    assert f"{CANARY}@" not in json.dumps(setup.wire.get("create", ""))


def test_connections_retry_dialing_and_use_sudo_for_the_deploy_user(production: Run) -> None:
    created = production.named("material-kai-mivaa-setup-base").inputs
    adopted = production.named("productivity-app-setup-base").inputs
    assert created["connection"]["user"] == "deploy" and created["create"] == "sudo -n bash -s"
    assert adopted["connection"]["user"] == "root" and adopted["create"] == "bash -s"
    assert created["connection"]["dialErrorLimit"] == 30
    reserved = production.named("material-kai-mivaa-ipv4").inputs["ipAddress"]
    assert created["connection"]["host"] == reserved


def test_host_keys_are_pinned_when_known() -> None:
    config = copy.deepcopy(production_config())
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHfwXy4HLgjllSvpYTrJg5bs+SS++I0fx8q7G3fw579w"
    config["stackyard:systems"]["productivity"]["hosts"]["app"]["access"]["hostKey"] = key
    run = run_program(config, canary_secrets(config))
    assert run.named("productivity-app-setup-base").inputs["connection"]["hostKey"] == key


def test_proxy_steps_carry_the_rendered_configs(production: Run) -> None:
    caddy = production.named("mehko-api-setup-proxy").inputs["stdin"]
    assert "api.mehko.ai {" in caddy and "import /etc/stackyard/upstreams/api-gateway.caddy" in caddy
    nginx = production.named("material-kai-mivaa-setup-proxy").inputs["stdin"]
    assert "server_name v1api.materialshub.gr;" in nginx and "certbot certonly --webroot" in nginx
    assert "server 127.0.0.1:9002 max_fails=0;" in nginx  # three blue instances behind the upstream


def test_the_same_stack_twice_runs_nothing(production: Run) -> None:
    config = production_config()
    again = run_program(config, canary_secrets(config))
    assert changed(production, again) == set()


def test_changing_a_ref_redeploys_only_that_service(production: Run) -> None:
    config = copy.deepcopy(production_config())
    config["stackyard:systems"]["material-kai"]["services"]["mivaa"]["source"]["ref"] = "v2.4.1"
    run = run_program(config, canary_secrets(config))
    assert changed(production, run) == {"material-kai-mivaa-setup-mivaa-deploy", "material-kai-mivaa-setup-mivaa-setup"}
    deploy = run.named("material-kai-mivaa-setup-mivaa-deploy").inputs
    assert deploy["create"] == "sudo -n /srv/mivaa/deploy v2.4.1"
    triggers = run.named("material-kai-mivaa-setup-mivaa-deploy").wire["triggers"]
    # secret as a whole (the env holds secrets): the server's ID, then the ref
    assert triggers[SECRET_SIG] and triggers["value"][1] == "v2.4.1"


def test_changing_a_secret_rewrites_its_file_and_restarts_its_users_only(production: Run) -> None:
    config = production_config()
    secrets = canary_secrets(config)
    secrets["mehkoOpenaiApiKey"] += "-rotated"
    run = run_program(config, secrets)
    assert changed(production, run) == {"mehko-api-setup-ai-server-env", "mehko-api-setup-ai-server-deploy"}


def nested_secrets(node, path: str = "") -> list[str]:
    """Paths of secret envelopes below the top of a value (the top itself may be one)."""
    if isinstance(node, dict):
        if SECRET_SIG in node:
            return [path or "."] if path else nested_secrets(node.get("value"), "")
        return [hit for key, value in node.items() for hit in nested_secrets(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [hit for i, value in enumerate(node) for hit in nested_secrets(value, f"{path}[{i}]")]
    return []


def test_triggers_are_never_a_plain_list_holding_a_secret(production: Run) -> None:
    # The real engine refuses a secret element whose value is unknown at preview ("malformed RPC
    # secret: missing value for triggers"); a whole-secret list is fine.
    secret_lists = 0
    for reg in production.of_type(COMMAND):
        triggers = reg.wire.get("triggers")
        assert nested_secrets(triggers) == [], reg.name
        secret_lists += isinstance(triggers, dict)
    # the deploys of the 4 services with secret env vars and of the one with a secret file, and the
    # accessories step (generated passwords)
    assert secret_lists == 6


SERVERS = {"mehko-api-setup": "41200001", "material-kai-mivaa-setup": "360000001"}
"""Provisioning of created hosts, and the ID of their server (both adopted in the production stack)."""


def server_of(reg) -> str | None:
    return next((server for prefix, server in SERVERS.items() if reg.name.startswith(prefix + "-")), None)


def test_every_step_is_keyed_by_a_hash_of_its_content(production: Run) -> None:
    for reg in production.of_type(COMMAND):
        wire = reg.wire
        triggers = unwrap(wire.get("triggers"))
        claim = reg.name
        if reg.name.endswith("-service"):  # a service's place on the host: it runs once, whatever changes
            service = reg.name.split("-setup-")[1].removesuffix("-service")
            sudo = "" if reg.name.startswith("productivity-") else "sudo -n "  # root there; a deploy user elsewhere
            helper = f"{sudo}/usr/local/sbin/stackyard-claim"
            assert wire["create"] == f"{helper} add service {service} {claim}", reg.name
            assert wire["update"] == f"{helper} move service {service} {claim}", reg.name  # never renamed
            assert wire["delete"] == f"{helper} release service {service} {claim} /srv/{service}/remove", reg.name
            assert triggers == [service], reg.name
            continue
        if "-setup-accessory-" in reg.name:  # an accessory's place: taken out, its server is stopped
            existing = reg.name.startswith("productivity-")  # its MySQL and Redis are taken over as they are
            assert "stackyard-claim add accessory" in wire["create"], reg.name
            assert ("systemctl disable" in wire["delete"]) != existing, reg.name
            continue
        server = server_of(reg)
        if server is not None:  # a replaced server (a new ID) is provisioned from the start
            assert triggers[0] == server, reg.name
            triggers = triggers[1:]
        if "logging" in wire and wire["logging"] == "none":
            # secret writers: their secret stdin is the content, and a change of it runs them again
            assert SECRET_SIG in wire["stdin"] and not triggers, reg.name
            continue
        digests = triggers[1:] if reg.name.endswith("-deploy") else triggers  # a deploy's first trigger is its ref
        assert digests, reg.name
        assert all(len(d) == 64 and int(d, 16) >= 0 for d in digests), reg.name


def test_only_created_hosts_key_their_steps_on_the_server(production: Run) -> None:
    keyed = {reg.name for reg in production.of_type(COMMAND) if server_of(reg)}
    assert len(keyed) == 21 + 14  # every command of the Hetzner and DigitalOcean hosts
    assert not any(reg.name.startswith("productivity-") and str(numeric_id("productivity-app")) in json.dumps(
        reg.wire) for reg in production.of_type(COMMAND))


def test_containers_reach_the_hosts_services_by_name_through_the_proxy(production: Run) -> None:
    """Seed 000's gateway calls ai-server and fastapi-worker: each name leads to the network's address,
    where Caddy serves their stable ports (and the firewall lets only the containers' bridge in)."""
    runtimes = production.named("mehko-api-setup-runtimes").inputs["stdin"]
    assert "--subnet 172.30.255.0/24 --gateway 172.30.255.1" in runtimes
    assert "--opt com.docker.network.bridge.name=stackyard0 stackyard" in runtimes
    for port in (3000, 3001, 8000):
        assert f"ufw allow in on stackyard0 to 172.30.255.1 port {port} proto tcp" in runtimes
    assert "/etc/systemd/system/caddy.service.d/stackyard-docker.conf" in runtimes
    caddy = production.named("mehko-api-setup-proxy").inputs["stdin"]
    for port in (3000, 3001, 8000):
        assert f"http://:{port} {{\n\tbind 127.0.0.1 172.30.255.1\n" in caddy
    setup = setup_of(production, "mehko-api", "api-gateway")
    for name in ("ai-server", "api-gateway", "fastapi-worker"):
        assert f"- {name}:172.30.255.1\n" in setup
    assert "context: server/gateway" in setup
    # No other host gets Docker, its network or the extra listeners.
    nginx = production.named("material-kai-mivaa-setup-proxy").inputs["stdin"]
    assert "172.30.255.1" not in nginx


def test_compose_services_mount_the_secret_file_read_only(production: Run) -> None:
    setup = setup_of(production, "mehko-api", "fastapi-worker")
    # Each slot mounts its own copy, made by the deploy that starts it.
    mount = ("/etc/stackyard/fastapi-worker/slots/blue/files/app/config/serviceAccountKey.json"
             ":/app/config/serviceAccountKey.json:ro")
    assert mount in setup
    key = production.named(next(r.name for r in production.of_type(COMMAND) if "fastapi-worker-file" in r.name))
    assert key.inputs["stdin"] == f"{CANARY}-firebaseServiceAccountJson"
    assert "chown root:svc-fastapi-worker" in key.inputs["create"] and "chmod 0640" in key.inputs["create"]


def test_a_file_taken_out_of_the_stack_is_pruned_before_any_file_is_written(production: Run) -> None:
    """The user step deletes from the files directory what the stack no longer lists (every release
    copies that directory): it runs again when the list changes, and every file's write waits for it,
    so it never meets a write's temporary file, nor prunes a file before the stack lists it."""
    writes = [r for r in production.of_type(COMMAND) if "-file-" in r.name]
    assert writes
    for write in writes:
        prefix, service = re.fullmatch(r"(.+-setup)-(.+)-file-[0-9a-f]{8}", write.name).groups()
        user = production.named(f"{prefix}-user-{service}")
        assert user.urn in write.dependencies, write.name
        assert "! -path /etc/stackyard/fastapi-worker/files/app/config/serviceAccountKey.json -delete" in user.inputs[
            "stdin"]
    config = copy.deepcopy(production_config())
    config["stackyard:systems"]["mehko"]["services"]["fastapi-worker"]["files"] = {}
    run = run_program(config, canary_secrets(config))
    assert "mehko-api-setup-user-fastapi-worker" in changed(production, run)
    assert "! -path" not in run.named("mehko-api-setup-user-fastapi-worker").inputs["stdin"]


def test_the_preflight_runs_before_any_change_on_every_provisioned_host(production: Run) -> None:
    """Every other step waits for it, through base; it waits for nothing on the host itself."""
    commands = {reg.urn: reg for reg in production.of_type(COMMAND)}
    by_name = {reg.name: reg for reg in commands.values()}

    def before(reg) -> set[str]:
        """Names of the host steps ``reg`` waits for, directly or not."""
        seen: set[str] = set()
        todo = [urn for urn in reg.dependencies if urn in commands]
        while todo:
            step = commands[todo.pop()]
            if step.name not in seen:
                seen.add(step.name)
                todo += [urn for urn in step.dependencies if urn in commands]
        return seen

    preflights = [name for name in by_name if name.endswith("-setup-preflight")]
    assert sorted(preflights) == ["material-kai-mivaa-setup-preflight", "mehko-api-setup-preflight",
                                  "productivity-app-setup-preflight"]
    for preflight in preflights:
        host = preflight.removesuffix("preflight")
        assert before(by_name[preflight]) == set()
        assert "bash -s" in by_name[preflight].inputs["create"]
        for name, reg in by_name.items():
            if name.startswith(host) and name != preflight and not name.endswith("-key"):
                assert preflight in before(reg), name
    script = by_name["productivity-app-setup-preflight"].inputs["stdin"]
    assert "replaced_sites=(productivity)" in script
    assert "check_port 5100 nginx" in script and "check_port 6100 '' svc-flask-backend" in script
    assert "flask-backend.service" in script  # no systemd unit of that name is taken over...
    assert "a PM2 process named flask-backend" not in script  # ... but its PM2 process is


def setup_of(production: Run, host: str, service: str) -> str:
    """The script of a service's setup step (its files, units, watchdog and log rotation)."""
    return production.named(f"{host}-setup-{service}-setup").inputs["stdin"]


def test_services_with_a_health_check_get_a_watchdog_and_workers_do_not(production: Run) -> None:
    mivaa = setup_of(production, "material-kai-mivaa", "mivaa")
    assert "cat > /etc/systemd/system/stackyard-mivaa-watchdog.timer.new" in mivaa
    assert "OnUnitActiveSec=30" in mivaa and "PATHS=(/health /docs /redoc /openapi.json)" in mivaa
    assert "systemctl daemon-reload\nsystemctl enable --quiet --now stackyard-mivaa-watchdog.timer\n" in mivaa
    flask = setup_of(production, "productivity-app", "flask-backend")
    assert "PATHS=(/health)" in flask  # the default: the health check's own path
    worker = setup_of(production, "productivity-app", "podfactory-sync")
    assert "stackyard-podfactory-sync-watchdog.timer.new" not in worker
    assert "/srv/podfactory-sync/watchdog.new" not in worker
    assert "systemctl disable --quiet --now stackyard-podfactory-sync-watchdog.timer" in worker


def test_log_files_and_pm2_logs_are_rotated_in_directories_of_the_service(production: Run) -> None:
    mivaa = setup_of(production, "material-kai-mivaa", "mivaa")
    assert re.search(r"cat > /etc/logrotate.d/stackyard-mivaa.new <<'(STACKYARD_EOF_\w+)'\n# Managed by stackyard",
                     mivaa)
    assert "/var/log/mivaa/app.log {" in mivaa and "rotate 7" in mivaa
    assert "install -d -m 0750 -o svc-mivaa -g svc-mivaa /var/log/mivaa\n" in mivaa
    flask = setup_of(production, "productivity-app", "flask-backend")
    assert "/var/lib/stackyard/flask-backend/pm2/*/logs/*.log {" in flask  # each slot daemon's own logs
    gateway = setup_of(production, "mehko-api", "api-gateway")
    assert "cat > /etc/logrotate.d" not in gateway


def test_a_server_whose_adopt_went_keeps_the_host_key_it_has() -> None:
    """Removing `adopt:` from a server stackyard took over once made it look created: a key stackyard made
    was pinned, one the server never had, and every step stopped at the host-key check. The host key the
    stack file keeps is pinned instead, and no key is made."""
    config = copy.deepcopy(production_config())
    api = config["stackyard:systems"]["mehko"]["hosts"]["api"]
    kept = api["access"]["hostKey"]
    adopted = run_program(config, canary_secrets(config))
    api.pop("adopt")
    run = run_program(config, canary_secrets(config))
    assert not [r.name for r in run.resources if r.name.startswith("mehko-api-host-key")]
    for each in (adopted, run):
        assert each.named("mehko-api-setup-base").inputs["connection"]["hostKey"] == kept


def test_ufw_opens_the_hosts_open_ports_as_the_cloud_firewall_does(production: Run) -> None:
    """openPorts beyond 80 and 443 reached the cloud firewall only: ufw, on by default, kept them closed."""
    config = copy.deepcopy(production_config())
    api = config["stackyard:systems"]["mehko"]["hosts"]["api"]
    api["openPorts"] = [80, 443, 8080, 3478]
    api["access"] = {**api.get("access", {}), "sshPort": 2222}
    run = run_program(config, canary_secrets(config))
    fw = run.named("mehko-api-firewall")
    cloud = {int(r["port"]) for r in fw.inputs["rules"] if r.get("port")}
    base = run.named("mehko-api-setup-base").inputs["stdin"]
    opened = {int(port) for port in re.findall(r"^ufw allow (\d+)/tcp >/dev/null$", base, re.M)}
    assert opened == cloud - {2222} == {80, 443, 8080, 3478}
    # An existing server has no openPorts (nor a cloud firewall): ufw opens 80 and 443 there, as before.
    existing = production.named("productivity-app-setup-base").inputs["stdin"]
    assert set(re.findall(r"^ufw allow (\d+)/tcp >/dev/null$", existing, re.M)) == {"80", "443"}


def test_a_file_renamed_with_its_content_the_same_redeploys_its_service(production: Run) -> None:
    """A file under a new path was written there and pruned from the old one, but the deploy's triggers
    held the files' values only: the serving release kept the old name until some other change (round 24)."""
    config = copy.deepcopy(production_config())
    files = config["stackyard:systems"]["productivity"]["services"]["flask-backend"].setdefault("files", {})
    files["config/settings.json"] = "same content"
    before = run_program(config, canary_secrets(config))
    files["config/settings.production.json"] = files.pop("config/settings.json")
    after = run_program(config, canary_secrets(config))
    assert "productivity-app-setup-flask-backend-deploy" in changed(before, after)


def test_the_deploys_never_wait_for_the_certificates(production: Run) -> None:
    """The certificates step, which fails while a hostname's DNS is not there yet, comes after the proxy
    and before nothing: with the proxy step failing instead, every deploy and env file waited, while an
    accessory's new password reached its server (round 24)."""
    certificates = [r for r in production.of_type(COMMAND) if r.name.endswith("-setup-certificates")]
    assert {r.name for r in certificates} == {"mehko-api-setup-certificates", "productivity-app-setup-certificates",
                                              "material-kai-mivaa-setup-certificates"}
    for step in certificates:
        prefix = step.name.removesuffix("-certificates")
        assert production.named(f"{prefix}-proxy").urn in step.dependencies
        waiting = [r.name for r in production.of_type(COMMAND) if step.urn in r.dependencies]
        assert waiting == [], waiting
        assert "no certificate for" in step.inputs["stdin"]
        assert "no certificate for" not in production.named(f"{prefix}-proxy").inputs["stdin"]
