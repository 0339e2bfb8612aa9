"""Bad stack files: each mistake gives one clean error naming its config path, before any resource exists."""

from __future__ import annotations

import copy

import pulumi
import pytest
from helpers.harness import Run, canary_secrets, production_config, run_program
from helpers.stack_mistakes import (
    CASES,
    Mutation,
    host,
    moved_to_a_new_host,
    not_provisioned,
    pages,
    problems_after,
    productivity,
    records,
    refusal,
    supabase,
    systems,
)


def run_broken(mutate: Mutation) -> tuple[Run, str]:
    """Runs the production stack after ``mutate``; returns what was registered and the error."""
    config = copy.deepcopy(production_config())
    secrets = canary_secrets(config)
    mutate(config)
    run = Run()
    with pytest.raises(pulumi.RunError) as err:
        run_program(config, secrets, run=run)
    return run, str(err.value)


@pytest.mark.parametrize("mutate,path,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_stack_file_names_the_path_and_registers_nothing(mutate: Mutation, path: str, fragment: str) -> None:
    run, message = run_broken(mutate)
    lines = [line.strip() for line in message.splitlines()[1:]]
    matching = [line for line in lines if line.startswith(f"{path}:")]
    assert matching, f"no problem reported at {path}:\n{message}"
    assert any(fragment in line for line in matching), message
    assert run.resources == [], [r.name for r in run.resources]
    assert "Traceback" not in message


def test_there_are_at_least_fifteen_distinct_mistakes() -> None:
    assert len({path for _, _, path, _ in CASES}) >= 15


def test_secret_set_in_plain_text_is_refused() -> None:
    config = copy.deepcopy(production_config())
    secrets = canary_secrets(config)
    secrets.pop("firebaseWebApiKey")
    with pytest.raises(pulumi.RunError) as err:
        run_program(config, secrets, plain={"firebaseWebApiKey": "AIza-plain"})
    assert ("systems.mehko.frontends.web.env.production.VITE_FIREBASE_API_KEY: "
            "stackyard:firebaseWebApiKey is stored in plain text") in str(err.value)


def test_every_problem_is_reported_in_one_error() -> None:
    def many(config: dict) -> None:
        host(config).update(serverTyp="cx22", openPorts=[22, 80, 443])
        records(config)[0].update(host="nope")
        pages(config)["env"]["production"]["X"] = {"secret": "missingOne"}

    _, message = run_broken(many)
    assert message.startswith("the stack config has 4 problems:"), message
    for path in ("systems.mehko.hosts.api.serverTyp", "systems.mehko.hosts.api.openPorts[0]",
                 "systems.mehko.dns.records[0].host", "systems.mehko.frontends.web.env.production.X"):
        assert f"\n  {path}: " in message


def test_missing_systems_key_is_named() -> None:
    _, message = run_broken(lambda c: c.pop("stackyard:systems"))
    assert "\n  systems: not set" in message


def test_a_provider_setting_that_could_send_a_token_elsewhere_is_refused() -> None:
    """A pull request's stack file, previewed by CI with decrypted tokens: hcloud:endpoint would send the
    Hetzner token to whoever it names, at the first import."""
    run, message = run_broken(lambda c: c.update({"hcloud:endpoint": "https://attacker.example/v1"}))
    assert "hcloud:endpoint: stackyard reads no such key" in message
    assert run.resources == []


# URLs a pull request's stack file might give supabase.apiUrl: each would get the account-wide token.
TOKEN_CATCHERS = ["https://attacker.example", "http://127.0.0.1:8080", "https://api.supabase.com.attacker.example",
                  "https://api.supabase.com@attacker.example", "https://api.supabase.com/", "http://api.supabase.com",
                  "https://API.SUPABASE.COM", "https://api.supabase.com:8443", "https://api.supabase.co"]


@pytest.mark.parametrize("url", TOKEN_CATCHERS)
def test_a_supabase_api_url_that_could_catch_the_token_is_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Supabase's Management API gets the access token with every request, and the URL lived only in the
    pickled provider, so a preview showed no change. Only Supabase's own is accepted, or the one URL the
    environment names (a test's stand-in): never another, whatever the environment allows."""
    from components.model.rules.supabase import API_URL_ENV

    monkeypatch.delenv(API_URL_ENV, raising=False)
    run, message = run_broken(lambda c: supabase(c).update(apiUrl=url))
    problems = [line.strip() for line in message.splitlines() if "systems.material-kai.supabase.apiUrl:" in line]
    assert problems, message
    # Refused by the rule, or before it by the URL kind (the rule then adds nothing at the same path).
    assert any("the access token goes to https://api.supabase.com only" in line or "is not an http(s) URL" in line
               for line in problems), message
    assert run.resources == []
    monkeypatch.setenv(API_URL_ENV, "https://stand-in.example")
    run, message = run_broken(lambda c: supabase(c).update(apiUrl=url))
    assert "systems.material-kai.supabase.apiUrl:" in message and run.resources == []
    monkeypatch.setenv(API_URL_ENV, url)
    config = copy.deepcopy(production_config())
    supabase(config).update(apiUrl=url)
    try:
        run = run_program(config, canary_secrets(config))
    except pulumi.RunError as err:  # a URL the URL kind refuses by itself
        assert "supabase.apiUrl: the access token" not in str(err)
    else:
        urls = {r.inputs["apiUrl"] for r in run.resources if r.type.startswith("pulumi-python:dynamic/supabase:")}
        assert urls == {url}


def test_a_secret_set_inside_the_systems_key_is_refused_not_published() -> None:
    import json

    config = copy.deepcopy(production_config())
    secrets = canary_secrets(config)
    secrets["stackyard:systems"] = json.dumps(config.pop("stackyard:systems"))  # `config set --secret --path`
    with pytest.raises(pulumi.RunError, match=r"stackyard:systems is stored as a secret"):
        run_program(config, secrets)


def directories_around(*paths: str) -> list[str]:
    """Each path, every directory above it, and one below it: the checks must hold both ways round."""
    out = set()
    for path in paths:
        parts = path.strip("/").split("/")
        out |= {"/" + "/".join(parts[:i]) for i in range(len(parts) + 1)}
        out.add(path.rstrip("/") + "/site")
    return sorted(out)


# Where a service's user writes (its checkout, state, logs, scratch, home), and what no site may show.
WRITTEN_BY_SERVICES = ("/srv/mivaa/shared", "/var/lib/stackyard/mivaa/.cache", "/var/log/mivaa", "/tmp/x",
                       "/var/tmp/x", "/home/deploy", "/run/user/1000", "/dev/shm/x", "/var/lock/x", "/var/run/x",
                       "/var/crash/x", "/var/lib/php/sessions")
NEVER_SHOWN = ("/etc/letsencrypt/live", "/etc/nginx", "/etc/stackyard/mivaa/files", "/root/.ssh",
               "/var/lib/caddy/.local/share/caddy", "/var/backups/stackyard", "/var/lib/mysql", "/var/lib/redis",
               "/etc/ssh", "/proc/self")
SYSTEM = ("/usr/lib", "/var/lib/dpkg", "/var/cache/apt", "/opt", "/bin", "/var/spool/cron")




def test_a_static_root_near_what_a_service_writes_or_no_site_may_show_is_refused() -> None:
    """The proxy follows links in what it serves: a root that is, holds or is inside a directory a
    service's user writes would let that user publish a TLS key; one near a key or a dump publishes it."""
    path = "systems.material-kai.hosts.mivaa.proxy.static.www.materialshub.gr"
    accepted = [root for root in directories_around(*WRITTEN_BY_SERVICES, *NEVER_SHOWN)
                if refusal(lambda c, r=root: host(c, "material-kai", "mivaa")["proxy"].update(
                    static={"www.materialshub.gr": r}), path) is None]
    assert accepted == [], accepted
    for fine in ("/var/www/materialshub", "/srv/site/dist", "/opt/site"):
        assert refusal(lambda c, r=fine: host(c, "material-kai", "mivaa")["proxy"].update(
            static={"www.materialshub.gr": r}), path) is None, fine


def test_a_backup_directory_near_a_system_or_service_directory_is_refused() -> None:
    """Backups run as root make their directory, prune what is in it and write through it: never one a
    service's user writes, one that holds a system directory (/, /var, /etc), or one inside a secret one."""
    path = "systems.material-kai.hosts.mivaa.backups.directory"
    candidates = directories_around(*WRITTEN_BY_SERVICES, *NEVER_SHOWN, *SYSTEM)
    accepted = [d for d in candidates if refusal(
        lambda c, d=d: host(c, "material-kai", "mivaa")["backups"].update(directory=d), path) is None]
    # A directory of its own under /var/backups (or /opt, or a mounted volume) is the place.
    assert accepted == ["/opt/site", "/var/backups/stackyard", "/var/backups/stackyard/site"], accepted
    for fine in ("/var/backups/stackyard", "/mnt/backups/stackyard", "/srv/backups"):
        assert refusal(lambda c, d=fine: host(c, "material-kai", "mivaa")["backups"].update(directory=d),
                       path) is None, fine


def test_a_secret_copied_under_a_settings_key_never_reaches_the_message() -> None:
    """A pull request can copy another key's ciphertext under a settings key (the passphrase provider's
    ciphertexts are not bound to their key): CI decrypts it, and a type error that quoted the value would
    print the secret, or its first characters, in the preview's output."""
    from components.model import Settings, camel

    token = "ghp_R3alTokenValue0123456789abcdefABCDEF"
    for field in Settings.__dataclass_fields__:
        key = camel(field)
        config = copy.deepcopy(production_config())
        secrets = canary_secrets(config)
        config.pop(f"stackyard:{key}", None)
        secrets[f"stackyard:{key}"] = token  # systems too: the whole key replaced by a copied ciphertext
        with pytest.raises(pulumi.RunError) as err:
            run_program(config, secrets)
        message = str(err.value)
        assert f"stackyard:{key} is stored as a secret" in message, message
        assert token[:8] not in message, f"{key}: {message}"


def test_a_policy_name_is_measured_in_bytes_as_postgresql_cuts_it() -> None:
    greek = "\u0391\u03c0\u03bf" * 18 + "!"  # Greek: 55 characters, 109 bytes
    assert len(greek) <= 63 < len(greek.encode())

    def mutate(config: dict) -> None:
        supabase(config)["database"]["policies"][0]["name"] = greek

    _, message = run_broken(mutate)
    assert "systems.material-kai.supabase.database.policies[0].name: between 1 and 63 bytes" in message, message


def test_a_login_or_deploy_user_is_never_a_service_user_nor_a_daemon_account() -> None:
    """cloud-init makes the deploy user a passwordless sudoer: named svc-<name>, a service's user would be
    root; named after a daemon's account (www-data, postgres), the daemon would. An existing server's
    login user may be root (stackyard then runs its steps without sudo), never one of those."""
    taken = ["svc-mivaa", "svc-x", "www-data", "nobody", "caddy", "redis", "mysql", "postgres", "daemon", "bin",
             "sys", "sshd", "systemd-network", "_apt", "messagebus"]
    deploy = "systems.material-kai.hosts.mivaa.deployUser"
    login = "systems.productivity.hosts.app.user"
    for name in taken:
        assert refusal(lambda c, n=name: host(c, "material-kai", "mivaa").update(deployUser=n), deploy), name
        assert refusal(lambda c, n=name: productivity(c)["hosts"]["app"].update(user=n), login), name
    assert refusal(lambda c: host(c, "material-kai", "mivaa").update(deployUser="root"), deploy)
    assert refusal(lambda c: productivity(c)["hosts"]["app"].update(user="root"), login) is None
    # Round 26: a group the image has already (useradd refuses the user: USERGROUPS_ENAB), or Ubuntu's
    # fwupd-refresh: the server is created, and nothing can ever log in to it.
    for group in ("adm", "staff", "users", "sudo", "plugdev", "netdev", "fwupd-refresh"):
        assert refusal(lambda c, n=group: host(c, "material-kai", "mivaa").update(deployUser=n), deploy), group
    for fine in ("deploy", "admin", "ubuntu", "ops"):
        assert refusal(lambda c, n=fine: host(c, "material-kai", "mivaa").update(deployUser=n), deploy) is None
        assert refusal(lambda c, n=fine: productivity(c)["hosts"]["app"].update(user=n), login) is None


def test_an_accessory_database_or_user_is_never_one_the_server_keeps() -> None:
    path = "systems.material-kai.hosts.mivaa.accessories.postgresql"

    def accessory(database: str, user: str) -> Mutation:
        return lambda c: host(c, "material-kai", "mivaa").update(
            accessories={"postgresql": {"database": database, "user": user}})

    for name in ("postgres", "root", "mysql", "template0", "template1", "information_schema",
                 "performance_schema", "sys", "pg_monitor", "pg_anything", "Postgres", "public"):
        assert refusal(accessory(name, "mivaa"), f"{path}.database"), name
        assert refusal(accessory("mivaa", name), f"{path}.user"), name
    for fine in ("mivaa", "shop", "app_data", "postgresql_app"):
        assert refusal(accessory(fine, fine), f"{path}.database") is None, fine
        assert refusal(accessory(fine, fine), f"{path}.user") is None, fine


def test_replaces_never_names_a_unit_the_system_or_stackyard_needs() -> None:
    path = "systems.material-kai.services.mivaa.replaces.systemd[0]"

    def replacing(unit: str) -> Mutation:
        return lambda c: systems(c)["material-kai"]["services"]["mivaa"].update(replaces={"systemd": [unit]})

    for unit in ("nginx", "caddy.service", "ssh", "sshd", "systemd-journald", "systemd-networkd.service",
                 "stackyard-mivaa-blue@9000", "stackyard-mivaa-watchdog.timer", "docker", "containerd", "cron",
                 "mariadb", "mysql", "redis-server", "postgresql", "postgresql@16-main", "ufw", "dbus",
                 "getty@tty1", "multi-user.target", "user@0.service", "mysqld", "mysqld.service", "syslog.service",
                 "dbus-org.freedesktop.login1.service",
                 # round 25: certbot's renewals, the network (ifup@ stopped runs ifdown), VPNs, saved firewall rules
                 "certbot.timer", "certbot.service", "ifup@eth0", "NetworkManager", "netfilter-persistent",
                 "tailscaled", "wg-quick@wg0", "networking.service",
                 # round 26: rotation, the timers of unattended upgrades, other firewalls
                 "logrotate.timer", "apt-daily-upgrade.timer", "apt-daily.timer", "nftables", "firewalld"):
        assert refusal(replacing(unit), path), unit
    for fine in ("mivaa", "mivaa-api.service", "gunicorn@8000", "old-sync.timer", "nginx-exporter"):
        assert refusal(replacing(fine), path) is None, fine


def test_a_worker_sets_its_own_port_variable_where_stackyard_sets_none() -> None:
    path = "systems.productivity.services.podfactory-sync.env.PORT"
    assert refusal(lambda c: productivity(c)["services"]["podfactory-sync"]["env"].update(PORT="9100"), path) is None
    assert refusal(lambda c: productivity(c)["services"]["podfactory-sync"]["env"].update(HOME="/tmp"), path.replace(
        "PORT", "HOME"))


def test_a_backup_schedule_is_five_cron_fields_in_their_ranges() -> None:
    path = "systems.material-kai.hosts.mivaa.backups.schedule"

    def scheduled(schedule: str) -> Mutation:
        return lambda c: host(c, "material-kai", "mivaa")["backups"].update(schedule=schedule)

    for bad in ("60 3 * * *", "17 24 * * *", "17 3 0 * *", "17 3 32 * *", "17 3 * 0 *", "17 3 * 13 *",
                "17 3 * * 8", "*/0 * * * *", "17 5-2 * * *", "17 3 * foo *", "17 3 * * sat-sun", "1- 3 * * *",
                "17 3 * * mon/0", "@daily"):
        assert refusal(scheduled(bad), path), bad
    for fine in ("17 3 * * *", "*/15 * * * *", "0 0-23/6 * * *", "0,30 4 1,15 * *", "5 4 * jan-jun mon-fri",
                 "0 2 * * 7", "0 2 * * SUN", "59 23 31 12 0-6"):
        assert refusal(scheduled(fine), path) is None, fine


def rename_system(config: dict, old: str, new: str) -> None:
    systems(config)[new] = systems(config).pop(old)


def rename_host(config: dict, system: str, old: str, new: str) -> None:
    spec = systems(config)[system]
    spec["hosts"][new] = spec["hosts"].pop(old)
    for entry in [*spec.get("services", {}).values(), *spec.get("dns", {}).get("records", [])]:
        if entry.get("host") == old:
            entry["host"] = new


@pytest.mark.parametrize("system,host_name,clashes_with", [
    ("material", "kai-mivaa", "systems.material-kai.hosts.mivaa"),  # the very same names
    ("mehko-api", "app", "systems.mehko.hosts.api"),                 # mehko-api-app... begins mehko-api-...
    ("material-kai-web", "app", "systems.material-kai.frontends.web"),
    ("mehko-api-setup", "x", "systems.mehko.hosts.api"),             # the setup steps' own names
])
def test_two_systems_whose_resource_names_meet_are_refused(system: str, host_name: str, clashes_with: str) -> None:
    """A resource's URN holds its name and type, not its system: names two systems build alike are one."""
    def renamed(config: dict) -> None:
        rename_system(config, "productivity", system)
        rename_host(config, system, "app", host_name)

    message = refusal(renamed, f"systems.{system}.hosts.{host_name}")
    assert message is not None and clashes_with in message, message


@pytest.mark.parametrize("system", ["material", "mehkoapi", "api-mehko", "kai", "mehko2"])
def test_systems_whose_names_only_look_alike_are_fine(system: str) -> None:
    def renamed(config: dict) -> None:
        rename_system(config, "productivity", system)

    assert refusal(renamed, f"systems.{system}.hosts.app") is None


@pytest.mark.parametrize("written,read", [
    ("1.10", 1.1), ("0644", 420), ("0x1F", 31), ("1_000", 1000), ("8080", 8080), ("True", True), ("false", False),
    ("2024-01-02", "2024-01-02 00:00:00 +0000 UTC"), ("2024-01-02T10:00:00Z", "2024-01-02 10:00:00 +0000 UTC"),
    ("2024-01-02T03:04:05+02:00", "2024-01-02 03:04:05 +0200 +0200"),
    ("2024-01-02T03:04:05.123-05:30", "2024-01-02 03:04:05.123 -0530 -0530"),
    ("2024-01-02T03:04:05+04:00", "2024-01-02 03:04:05 +0400 +04"),
])
def test_a_value_yaml_reads_as_something_else_is_refused_quote_it(written: str, read: object) -> None:
    """What the CLI (Go's YAML) hands the program for an unquoted value: the text written is gone, so the
    value is refused wherever a value is text (env, files, secrets), never passed on rewritten."""
    for where, path in ((lambda c: productivity(c)["services"]["flask-backend"]["env"],
                         "systems.productivity.services.flask-backend.env.X"),
                        (lambda c: pages(c)["env"]["production"], "systems.mehko.frontends.web.env.production.X")):
        message = refusal(lambda c, w=where: w(c).update(X=read), path)
        assert message is not None and "quote" in message, (written, path, message)
    assert refusal(lambda c: productivity(c)["services"]["flask-backend"]["env"].update(X=written),
                   "systems.productivity.services.flask-backend.env.X") is None


def test_a_text_or_mail_record_beside_a_frontend_s_domain_is_fine() -> None:
    for kind, content in (("TXT", "v=spf1 -all"), ("MX", "10 mail.example.com")):
        assert refusal(lambda c, k=kind, t=content: records(c).append(
            {"zone": "mehko.ai", "name": "@", "type": k, "content": t}), "systems.mehko.dns.records[1]") is None


@pytest.mark.parametrize("paths,index,fragment", [
    (["/srv/a_b", "/srv/a/b"], 1, "both archived as srv_a_b.tar.gz"),
    (["/"], 0, "the system's own file systems"),
    (["/proc"], 0, "the system's own file systems"),
    (["/run/app"], 0, "the system's own file systems"),
    (["/var"], 0, "inside the backup directory"),
    (["/var/backups"], 0, "inside the backup directory"),
    (["/var/backups/stackyard/x"], 0, "inside the backup directory"),
])
def test_a_backup_path_that_overwrites_another_or_grows_without_end_is_refused(paths: list[str], index: int,
                                                                              fragment: str) -> None:
    """/srv/a_b and /srv/a/b were one archive, the second over the first; /var archived the runs it keeps
    (five runs of 1 MB of data grew to 120 MB)."""
    message = refusal(lambda c: productivity(c)["hosts"]["app"]["backups"].update(paths=paths),
                      f"systems.productivity.hosts.app.backups.paths[{index}]")
    assert message is not None and fragment in message, message


def test_backup_paths_of_their_own_are_fine() -> None:
    assert refusal(lambda c: productivity(c)["hosts"]["app"]["backups"].update(
        paths=["/srv/a_b", "/srv/a-b", "/var/www/uploads", "/opt/app/data"]),
        "systems.productivity.hosts.app.backups.paths[0]") is None


@pytest.mark.parametrize("name", ["stackyard.conf", "stackyard", "stackyard.conf.new", "stackyard-old.conf",
                                  "stackyard_acme"])
def test_an_nginx_never_replaces_stackyard_s_own_files(name: str) -> None:
    """proxy.replaces disables the files it names in the reload that enables stackyard's site: naming
    stackyard.conf (sites-enabled/ and conf.d/ hold it) took every site of the host offline."""
    message = refusal(lambda c: productivity(c)["hosts"]["app"]["proxy"].update(replaces=[name]),
                      "systems.productivity.hosts.app.proxy.replaces[0]")
    assert message is not None and "stackyard's own" in message, message


@pytest.mark.parametrize("name", ["productivity", "default", "productivity.conf", "my-stackyard.conf"])
def test_an_nginx_replaces_the_old_sites_it_names(name: str) -> None:
    assert refusal(lambda c: productivity(c)["hosts"]["app"]["proxy"].update(replaces=[name]),
                   "systems.productivity.hosts.app.proxy.replaces[0]") is None


@pytest.mark.parametrize("mutate", [
    lambda c: c.update({"stackyard:sshAllowFrom": ["198.51.100.0/24"]}),
    lambda c: c.update({"stackyard:sshAllowFrom": ["198.51.100.0/24", "2001:db8::/32"]}),
    # Every host has a list of its own: the stack's, empty, is no host's.
    lambda c: (c.update({"stackyard:sshAllowFrom": []}),
               *(h.setdefault("access", {}).update(sshAllowFrom=["198.51.100.0/24"])
                 for s in systems(c).values() for h in s["hosts"].values())),
    # A server dialled by name: the family it is reached over is not known here.
    lambda c: productivity(c)["hosts"]["app"].update(address="app.productivity.example.com")
    or productivity(c)["hosts"]["app"]["access"].update(sshAllowFrom=["2001:db8::/32"]),
    lambda c: productivity(c)["hosts"]["app"].update(address="2001:db8::10")
    or productivity(c)["hosts"]["app"]["access"].update(sshAllowFrom=["2001:db8::/32"]),
    # Nothing connects to an existing server stackyard does not provision.
    lambda c: not_provisioned(productivity(c))
    or productivity(c)["hosts"]["app"]["access"].update(sshAllowFrom=["2001:db8::/32"]),
    lambda c: host(c)["access"].update(sshAllowFrom=["198.51.100.0/24", "::/0", "::/96", "::1/128", "64:ff9b::/96"]),
    # An existing server's list reaches only its ufw: without one, the list filters nothing (round 22).
    lambda c: productivity(c)["hosts"]["app"].update(ufw=False)
    or productivity(c)["hosts"]["app"]["access"].update(sshAllowFrom=["2001:db8::/32"]),
], ids=["v4", "v4 and v6", "hosts' own", "by name", "v6 to v6", "not provisioned", "v6 forms ufw writes alike",
        "existing without ufw"])
def test_ssh_lists_that_reach_stackyard_are_fine(mutate: Mutation) -> None:
    assert problems_after(mutate) == []


def test_a_value_the_reader_could_not_take_is_reported_once_by_what_was_written() -> None:
    """A TXT record's content YAML read as a date reached the rules as no content at all, and they added
    "required: the record's content" beside "quote the value": the second word sent the operator looking
    for a content that is there."""
    problems = problems_after(lambda c: records(c).append({"zone": "mehko.ai", "name": "_v", "type": "TXT",
                                                           "content": "2024-01-02 00:00:00 +0000 UTC"}))
    assert [message for path, message in problems if path == "systems.mehko.dns.records[1].content"] == [
        "YAML read a date here and wrote it as '2024-01-02 00:00:00 +0000 UTC': quote the value"]


@pytest.mark.parametrize("mutate", [
    # The records moved with the service.
    lambda c: moved_to_a_new_host(c) or [r.update(host="mivaa2") for r in records(c, "material-kai")],
    # Another system's record holding this server's address.
    lambda c: records(c).append({"zone": "mehko.ai", "name": "shop", "type": "A", "content": "203.0.113.10"})
    or productivity(c)["services"]["flask-backend"]["hostnames"].append("shop.mehko.ai"),
    # An address the stack does not know (a load balancer's, a proxy's): not for stackyard to judge.
    lambda c: records(c).append({"zone": "mehko.ai", "name": "shop", "type": "A", "content": "198.51.100.80"})
    or systems(c)["mehko"]["services"]["api-gateway"]["hostnames"].append("shop.mehko.ai"),
    # A server stackyard does not provision (a load balancer passing TLS through to the host): as an unknown
    # address (round 22).
    lambda c: productivity(c)["hosts"].update(lb={"provider": "existing", "address": "203.0.113.50",
                                                  "provision": False})
    or records(c).append({"zone": "mehko.ai", "name": "shop", "type": "A", "content": "203.0.113.50"})
    or productivity(c)["services"]["flask-backend"]["hostnames"].append("shop.mehko.ai"),
], ids=["records moved too", "another system's record", "an unknown address", "a front without a proxy"])
def test_hostnames_whose_records_point_at_their_host_or_elsewhere_are_fine(mutate: Mutation) -> None:
    assert problems_after(mutate) == []
