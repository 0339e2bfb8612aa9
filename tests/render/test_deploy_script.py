"""The deploy script, run for real in a scratch root with a real git repository (tests/helpers/deploy_host.py).

systemctl, nginx, curl and runuser are stubs that log their calls and keep a host's state (running
units, the upstream nginx loaded), so the tests pin the order that matters: the proxy switches only
after every new instance passed its health check, a failed check leaves the old release serving with
its own settings, and nothing the proxy routes to is ever stopped.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from helpers.deploy_host import DeployHost, unit_ports

from components import git_refs
from components.render.deploy import deploy_script
from components.render.proxy import upstream_file


@pytest.fixture
def host(tmp_path: Path) -> DeployHost:
    return DeployHost(tmp_path)



def socket_on(port: int) -> socket.socket:
    """A real listener on 127.0.0.1:port (ss sees it; the stubbed units listen on nothing)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_first_deploy_switches_only_after_every_instance_is_healthy(host: DeployHost) -> None:
    sha = host.git("rev-parse", "HEAD")
    host.script_health(9000, "fail", "fail")  # healthy on the third try
    result = host.deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    calls = host.calls()
    start = calls.index("systemctl restart stackyard-mivaa-blue@9000.service stackyard-mivaa-blue@9001.service "
                        "stackyard-mivaa-blue@9002.service")
    checks = [i for i, c in enumerate(calls) if c.startswith("curl ")]
    reload = calls.index("systemctl reload nginx")
    assert start < min(checks) and max(checks) < reload
    assert [c for c in calls if c.startswith("curl")] == ["curl 9000"] * 3 + ["curl 9001", "curl 9002"]
    assert "port 9000 healthy after 3 tries" in result.stdout
    assert [line.split()[1] for line in host.upstream().splitlines() if "server" in line] == [
        "127.0.0.1:9000", "127.0.0.1:9001", "127.0.0.1:9002"]
    assert host.active() == ("blue", sha)
    assert (host.base / "current").resolve() == host.release(sha).resolve()
    assert (host.release(sha) / "app.txt").read_text() == "v1"
    assert host.violations() == []


def test_a_failed_health_check_keeps_the_old_release_serving_and_keeps_its_answer_for_root(
        host: DeployHost) -> None:
    first = host.git("rev-parse", "HEAD")
    assert host.deploy().returncode == 0
    before = host.upstream()
    host.commit("v2")
    host.script_health(10000, *["fail"] * 10)
    result = host.deploy()
    assert result.returncode == 1
    assert "failed its health check 4 times; last answer: HTTP 500" in result.stdout
    # The app's answer may hold anything it prints: it is kept for root, never shown in `pulumi up`.
    assert "database unreachable" not in result.stdout + result.stderr
    assert "database unreachable" in (host.base / "last-failed-health").read_text()
    assert (host.base / "last-failed-health").stat().st_mode & 0o077 == 0  # root's alone
    new_calls = host.calls()[host.calls().index("systemctl reload nginx") + 1:]
    assert [c for c in new_calls if c.startswith("curl")] == ["curl 10000"] * 4  # retries as configured
    assert "systemctl reload nginx" not in new_calls
    assert any(c.startswith("systemctl disable --quiet --now stackyard-mivaa-green@10000") for c in new_calls)
    assert host.upstream() == before
    assert host.active() == ("blue", first)
    assert unit_ports(host.running()) == {9000, 9001, 9002}
    assert host.violations() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to listen as another user (setpriv)")
def test_a_port_another_user_holds_never_takes_the_services_traffic(host: DeployHost) -> None:
    """Another service's user listens on the idle slot's port before the deploy, and answers its health
    check (the stubbed curl answers for a running unit; ss sees the real listener). The switch is refused.
    (Ports of this test's own: the listener is real, and the deploy tests run side by side.)"""
    plan = host.plan(port=8600)
    first = host.git("rev-parse", "HEAD")
    assert host.deploy(plan).returncode == 0
    before = host.upstream()
    host.commit("v2")
    squatter = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 "/usr/bin/python3", "-m", "http.server", "10600", "--bind", "127.0.0.1"],
                                cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if "127.0.0.1:10600" in subprocess.run(["ss", "-Hltn"], capture_output=True, text=True).stdout:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the squatter never listened")
        result = host.deploy(plan)
    finally:
        squatter.kill()
        squatter.wait()
    assert result.returncode == 1, result.stdout
    # Refused before the slot starts (its ports must be free); one taken after that check is refused at
    # the health check ("answers, but from a process that is not svc-mivaa's": test_port_owner.py).
    assert "port 10600 of the green slot is in use" in result.stdout
    assert host.upstream() == before
    assert host.active() == ("blue", first)
    assert host.violations() == []


@pytest.mark.parametrize("health", ["answers", "no health path", "one probe fails"])
def test_an_upstream_written_afresh_is_pointed_back_at_the_serving_slot(host: DeployHost, health: str) -> None:
    """A proxy added to the host, or changed to the other kind, writes the service's upstream afresh, at the
    blue slot, while it serves from green: the next deploy of the same commit left it there, routing to
    nothing until another commit came (the fifteenth review). And so it still did where the service has
    no health path, or where one probe of the green slot failed: the deploy said "already serving" (the
    seventeenth review). The serving slot is told by what listens on its ports."""
    plan = host.plan(health_path=None) if health == "no health path" else host.plan()
    assert host.deploy(plan).returncode == 0
    host.commit("v2")
    assert host.deploy(plan).returncode == 0
    assert host.active()[0] == "green"
    served = host.upstream()
    upstream = host.root / "etc/stackyard/upstreams/mivaa.nginx"
    upstream.write_text(upstream_file(plan, "nginx", "blue"))  # what the proxy step writes afresh
    if health == "one probe fails":
        host.script_health(10000, "fail")

    result = host.deploy(plan)

    assert result.returncode == 0, result.stderr
    assert "back to the green slot" in result.stdout
    assert host.upstream() == served
    assert host.violations() == []


def test_a_port_moved_onto_the_other_slot_s_ports_is_refused_before_anything_starts(host: DeployHost) -> None:
    """Port 8800 serving from green (10800); moved to 9800, the blue slot's ports are 10800-10802, held by
    the serving instances, which then answered the new release's health check in its place. (Ports of
    this test's own: the deploy tests run side by side, and the listener here is a real one.)"""
    plan = host.plan(port=8800)
    assert host.deploy(plan).returncode == 0
    host.commit("v2")
    assert host.deploy(plan).returncode == 0
    holding = {port: socket_on(port) for port in (10800,)}  # the serving instance, as the real host has it
    try:
        host.commit("v3")
        result = host.deploy(host.plan(port=9800))
    finally:
        for sock in holding.values():
            sock.close()
    assert result.returncode == 1
    assert "port 10800 of the blue slot is in use" in result.stdout
    assert host.active()[0] == "green"


def test_a_first_upstream_at_ports_another_service_serves_is_no_restart(host: DeployHost) -> None:
    """A renamed service's upstream starts as its former self's, which served from its green slot: ports
    equal to the new service's blue ones. The first deploy took the proxy on its next slot with nothing
    active for a deploy killed after its switch, skipped the check of the ports, and started its units on
    ports another service held (the seventeenth review). Only a slot with a record is restarted."""
    plan = host.plan(instances=1, port=8900)  # ports of its own, as above
    upstream = host.root / "etc/stackyard/upstreams/mivaa.nginx"
    upstream.parent.mkdir(parents=True)
    upstream.write_text(upstream_file(plan, "nginx", "blue"))  # the former self's green: 9900
    former = socket_on(9900)
    try:
        result = host.deploy(plan)
    finally:
        former.close()
    assert result.returncode == 1
    assert "port 9900 of the blue slot is in use" in result.stdout
    assert not any(call.startswith("systemctl restart") for call in host.calls())
    assert not (host.base / "active").exists()


def test_without_a_health_check_a_changed_port_never_moves_the_proxy_to_ports_nothing_serves(
        host: DeployHost) -> None:
    """No health path: the repair cannot tell a slot serves, so it leaves the upstream as it is. It took
    "answers" for true on the new port's instances, where nothing listened (the sixteenth review)."""
    plan = host.plan(health_path=None)
    assert host.deploy(plan).returncode == 0
    result = host.deploy(host.plan(health_path=None, port=8500))
    assert "back to the blue slot" not in result.stdout
    assert host.violations() == []


def test_a_slot_a_watchdog_restarted_after_the_switch_is_stopped_not_a_lasting_refusal(host: DeployHost) -> None:
    """A watchdog run that read `active` before a switch restarted an instance of the slot just left: the
    next deploy found its port in use and refused every time (the sixteenth review)."""
    assert host.deploy().returncode == 0
    host.commit("v2")
    assert host.deploy().returncode == 0
    (host.tmp / "running" / "stackyard-mivaa-blue@9001.service").touch()  # the watchdog's restart
    host.commit("v3")
    result = host.deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert host.active()[0] == "blue"
    assert host.violations() == []


def test_a_failed_deploy_leaves_the_serving_slot_its_own_env_file_and_definition(host: DeployHost) -> None:
    host.env_file().write_text('LOG_LEVEL="info"\n')
    plan = host.plan()
    assert host.deploy(plan).returncode == 0
    blue_env = host.at("/etc/stackyard/mivaa/slots/blue/env")
    blue_unit = host.definition(plan, "blue").read_text()
    host.env_file().write_text('LOG_LEVEL="debug"\n')
    changed = host.plan(command="false")  # a new definition too
    host.script_health(10000, *["fail"] * 10)
    assert host.deploy(changed).returncode == 1
    # A restart of the serving slot (the watchdog's, a reboot's) still gets what it was started with.
    assert blue_env.read_text() == 'LOG_LEVEL="info"\n'
    assert host.definition(plan, "blue").read_text() == blue_unit
    assert "EnvironmentFile=/etc/stackyard/mivaa/slots/blue/env" in blue_unit


def test_second_deploy_goes_to_the_other_slot_then_stops_the_old_one(host: DeployHost) -> None:
    assert host.deploy().returncode == 0
    second = host.commit("v2")
    result = host.deploy()
    assert result.returncode == 0, result.stderr
    calls = host.calls()
    last_reload = len(calls) - 1 - calls[::-1].index("systemctl reload nginx")
    stop_blue = next(i for i, c in enumerate(calls) if c.startswith("systemctl disable --quiet --now "
                                                                    "stackyard-mivaa-blue@9000"))
    assert stop_blue > last_reload  # the old slot stops only after the proxy points at the new one
    assert "127.0.0.1:10000" in host.upstream() and "127.0.0.1:9000" not in host.upstream()
    assert host.active() == ("green", second)
    assert unit_ports(host.running()) == {10000, 10001, 10002}
    assert host.violations() == []


def test_same_ref_again_changes_nothing(host: DeployHost) -> None:
    assert host.deploy().returncode == 0
    count = len(host.calls())
    result = host.deploy()
    assert result.returncode == 0 and "already serving" in result.stdout
    assert len(host.calls()) == count


def test_rollback_is_a_deploy_of_the_previous_ref(host: DeployHost) -> None:
    first = host.git("rev-parse", "HEAD")
    assert host.deploy().returncode == 0
    host.commit("v2")
    assert host.deploy().returncode == 0
    result = host.deploy(ref=first)
    assert result.returncode == 0, result.stderr
    assert host.active() == ("blue", first)
    assert "building release" not in result.stdout  # the kept release is reused


def test_old_releases_are_pruned_to_keep(host: DeployHost) -> None:
    shas = [host.git("rev-parse", "HEAD")]
    assert host.deploy().returncode == 0
    for text in ("v2", "v3", "v4"):
        shas.append(host.commit(text))
        assert host.deploy().returncode == 0
    kept = sorted(p.name for p in (host.base / "releases").iterdir() if p.is_dir())
    assert kept == sorted(host.release(sha).name for sha in shas[-2:])
    assert sorted(p.name for p in (host.base / "releases").glob("*.built")) == sorted(f"{s}.built" for s in kept)


def test_a_concurrent_deploy_is_refused(host: DeployHost) -> None:
    host.base.mkdir(parents=True)
    with open(host.base / ".deploy.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = host.deploy()
    assert result.returncode == 75
    assert "another deploy of mivaa is running" in result.stdout


def test_a_process_a_build_leaves_behind_never_holds_the_deploy_lock(host: DeployHost) -> None:
    """The build is the service's code: a daemon it starts (or one started to hold the lock on purpose)
    must not keep the deploy's lock, or every later deploy would be refused as concurrent."""
    leftover = "time.sleep(41.7)"  # sleep itself is a stub here
    plan = host.plan(install=(f"python3 -c 'import time; {leftover}' >/dev/null 2>&1 &",))
    try:
        assert host.deploy(plan).returncode == 0
        assert (host.base / ".deploy.lock").stat().st_mode & 0o077 == 0  # and none may open it to hold it
        host.commit("v2")
        result = host.deploy(plan)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        subprocess.run(["pkill", "-f", re.escape(leftover)], check=False)


@pytest.mark.parametrize("shared", ["branch and annotated tag", "branch and plain tag", "annotated tag only"])
def test_the_host_deploys_the_commit_the_preview_resolved(host: DeployHost, shared: str, monkeypatch) -> None:
    """A name that is a branch and a tag at once (release-1 kept as a branch after it was tagged) is the
    branch on both sides; an annotated tag is the commit it tags, never the tag object."""
    monkeypatch.setenv("STACKYARD_RESOLVE_REFS", "on")  # the harness turns it off for the programs it runs
    first = host.git("rev-parse", "HEAD")
    if "branch" in shared:
        host.git("branch", "release-1", first)
    host.commit("v2")
    host.git("tag", *(["-a", "-m", "tagged"] if "annotated" in shared else []), "release-1")
    host.commit("v3")
    preview = git_refs.resolve(f"file://{host.repo}", "release-1")
    result = host.deploy(ref="release-1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert host.active()[1] == preview
    assert preview == (first if "branch" in shared else host.git("rev-parse", "release-1^{commit}"))


def test_unknown_ref_fails_before_touching_anything(host: DeployHost) -> None:
    result = host.deploy(ref="no-such-branch")
    assert result.returncode == 1 and "no branch or tag no-such-branch" in result.stdout
    assert [c for c in host.calls() if not c.startswith("curl")] == []


def test_a_ref_that_looks_like_an_option_is_refused(host: DeployHost) -> None:
    result = host.deploy(ref="--upload-pack=touch /tmp/stackyard-pwned-ref")
    assert result.returncode == 2 and "a ref never starts with '-'" in result.stderr
    assert not Path("/tmp/stackyard-pwned-ref").exists()


def test_same_ref_with_changed_settings_restarts_in_the_other_slot(host: DeployHost) -> None:
    host.env_file().write_text('LOG_LEVEL="info"\n')
    first = host.git("rev-parse", "HEAD")
    assert host.deploy().returncode == 0
    host.env_file().write_text('LOG_LEVEL="debug"\n')
    result = host.deploy()
    assert result.returncode == 0, result.stderr
    assert "building release" not in result.stdout  # the same release, started again with its new settings
    assert host.active() == ("green", first)
    assert host.at("/etc/stackyard/mivaa/slots/green/env").read_text() == 'LOG_LEVEL="debug"\n'
    again = host.deploy()
    assert "already serving" in again.stdout and host.active() == ("green", first)


def test_a_changed_secret_file_reaches_a_new_release_of_the_same_commit(host: DeployHost) -> None:
    files = host.at("/etc/stackyard/mivaa/files")
    files.mkdir(parents=True)
    (files / "key.json").write_text("old secret")
    first = host.git("rev-parse", "HEAD")
    assert host.deploy().returncode == 0
    serving = (host.base / "slots/blue").resolve()
    assert (serving / "key.json").read_text() == "old secret"
    (files / "key.json").write_text("rotated secret")
    result = host.deploy()
    assert result.returncode == 0, result.stderr
    assert "building release" in result.stdout
    live = (host.base / "slots/green").resolve()
    assert live != serving and (live / "key.json").read_text() == "rotated secret"
    assert host.active() == ("green", first)
    assert (serving / "key.json").read_text() == "old secret"  # never changed under the old process


def test_a_killed_secret_write_s_temporary_file_never_reaches_a_release(host: DeployHost) -> None:
    """A write killed between mktemp and mv leaves a root-only .stackyard.* beside the files: copied as the
    service's user (runuser is a stub here, so root copies), it failed every later deploy."""
    files = host.at("/etc/stackyard/mivaa/files")
    files.mkdir(parents=True)
    (files / "key.json").write_text("the secret")
    (files / ".stackyard.Ab3dE6gH").write_text("half a rotated secret")
    (files / ".stackyard.Ab3dE6gH").chmod(0o600)
    result = host.deploy()
    assert result.returncode == 0, result.stderr
    release = (host.base / "slots/blue").resolve()
    assert (release / "key.json").read_text() == "the secret"
    assert not list(release.glob(".stackyard.*")) and not list(files.glob(".stackyard.*"))


def test_a_release_is_built_where_it_runs_and_a_half_built_one_is_built_again(host: DeployHost) -> None:
    sha = host.git("rev-parse", "HEAD")
    plan = host.plan(install=("pwd > built-in.txt",))
    release = host.release(sha, plan)
    release.mkdir(parents=True)
    (release / "left-by-a-failed-build").write_text("")  # no completion marker: not a release
    result = host.deploy(plan)
    assert result.returncode == 0, result.stderr
    assert "building release" in result.stdout
    assert not (release / "left-by-a-failed-build").exists()
    # Tools such as uv write absolute paths into the build: it must happen at the path it runs from.
    assert (release / "built-in.txt").read_text().strip() == str(release)
    # Its marker is root's, beside it: never inside the directory its user owns.
    assert release.with_name(f"{release.name}.built").exists()


def test_removal_stops_both_slots_drops_the_upstream_and_keeps_the_data(host: DeployHost) -> None:
    assert host.deploy().returncode == 0
    (host.base / "shared").mkdir()
    (host.base / "shared" / "uploads.db").write_text("data")
    result = host.remove()
    assert result.returncode == 0, result.stderr
    calls = host.calls()
    assert any(c.startswith("systemctl disable --quiet --now stackyard-mivaa-blue@9000") for c in calls)
    # The green slot was never prepared: systemd refuses to disable a unit with no file, and so does the
    # stub, which made this removal fail (as it did on the real host, in tests/e2e/test_15_rename.py).
    assert not any(c.startswith("systemctl disable") and "stackyard-mivaa-green@" in c for c in calls)
    assert not (host.root / "etc/stackyard/upstreams/mivaa.nginx").exists()
    assert not (host.base / "active").exists()
    assert not host.at("/etc/stackyard/mivaa/slots").exists()  # the slots' copies of the env file go
    assert (host.base / "shared" / "uploads.db").read_text() == "data"
    assert any((host.base / "releases").iterdir())
    assert host.running() == set()


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx")
def test_a_removal_the_proxys_site_still_includes_leaves_an_upstream_nginx_loads(host: DeployHost,
                                                                                tmp_path: Path) -> None:
    """Round 38: a host taken out of the stack, or the stack destroyed, removes each service with no proxy
    step before it: the site still includes the upstream, and deleting it left a configuration nginx would
    never load again (a reload, a renewal's hook, the next boot: the operator's own sites down with it)."""
    assert host.deploy().returncode == 0
    name = re.match(r"upstream (\S+) \{", host.upstream()).group(1)
    site = host.root / "etc/nginx/sites-available/stackyard.conf"
    site.parent.mkdir(parents=True)
    site.write_text("include /etc/stackyard/upstreams/mivaa.nginx;\n"
                    f"server {{ listen 127.0.0.1:8099; location / {{ proxy_pass http://{name}; }} }}\n")
    (host.root / "etc/nginx/sites-enabled").mkdir()
    (host.root / "etc/nginx/sites-enabled/stackyard.conf").symlink_to(site)
    assert host.remove().returncode == 0
    upstream = host.upstream()
    assert "127.0.0.1:1 " in upstream and "9000" not in upstream, upstream  # nothing a user could hold
    # The real nginx loads the site with what was left.
    conf = tmp_path / "nginx.conf"
    http = site.read_text().replace("/etc/stackyard", str(host.root / "etc/stackyard"))
    conf.write_text(f"events {{}}\nhttp {{\n{http}}}\npid {tmp_path}/nginx.pid;\nerror_log stderr;\n")
    checked = subprocess.run(["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(conf)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    # Not included (a service removed from a host that stays: the proxy step ran first): it goes, whatever
    # copy of the site before is kept aside (the proxy step's .previous: the e2e host found it kept).
    (site.parent / "stackyard.conf.previous").write_text(site.read_text())
    site.write_text("")
    assert host.deploy().returncode == 0 and host.remove().returncode == 0
    assert not (host.root / "etc/stackyard/upstreams/mivaa.nginx").exists()


def test_removal_after_both_slots_served_stops_both(host: DeployHost) -> None:
    assert host.deploy().returncode == 0
    host.commit("v2")
    assert host.deploy().returncode == 0
    result = host.remove()
    assert result.returncode == 0, result.stderr
    for color, port in (("blue", 9000), ("green", 10000)):
        assert any(c.startswith(f"systemctl disable --quiet --now stackyard-mivaa-{color}@{port}")
                   for c in host.calls())
    assert host.running() == set()


@pytest.mark.parametrize("before,after", [(None, 8000), (8000, None)], ids=["a worker gains a port",
                                                                         "a service loses its port"])
def test_a_slot_whose_units_changed_naming_is_still_stopped(host: DeployHost, before, after) -> None:
    """A worker's slot is one unit (stackyard-x-blue.service), a service's a template's instances
    (stackyard-x-blue@9000.service): after the change, the old slot's units are the other naming's, and a
    stop of the new naming's alone left them running, two workers at once (the fourteenth review)."""
    first = host.plan(port=before, instances=1, health_path=None if before is None else "/health")
    assert host.deploy(first).returncode == 0
    old_units = set(host.running())
    assert old_units
    host.commit("v2")
    second = host.plan(port=after, instances=1, health_path=None if after is None else "/health")
    result = host.deploy(second)
    assert result.returncode == 0, result.stderr
    assert not (old_units & host.running()), host.running()
    assert host.running()


def old_pm2(host: DeployHost, *processes: str, alive: bool = True) -> None:
    """A PM2 daemon outside stackyard at /root/.pm2 (its pid alive or not), running ``processes``."""
    home = host.root / "root/.pm2"
    home.mkdir(parents=True)
    (home / "pm2.pid").write_text(str(os.getpid() if alive else 4_000_000))
    (host.tmp / "pm2-processes").write_text("".join(f"{p}\n" for p in processes))


def test_a_taken_over_server_stops_its_old_processes_only_once_the_new_release_serves(host: DeployHost) -> None:
    old_pm2(host, "flask-backend", "other-app")
    plan = host.plan(replaced_port=5000, replaced_pm2=("flask-backend",), replaced_units=("flask.service",))
    result = host.deploy(plan)
    assert result.returncode == 0, result.stderr
    calls = host.calls()
    reload = calls.index("systemctl reload nginx")
    delete = calls.index("pm2 /root/.pm2 delete flask-backend")
    assert reload < delete < calls.index("pm2 /root/.pm2 save --force")
    assert reload < calls.index("systemctl disable --quiet --now flask.service")
    assert not any("other-app" in c for c in calls if "describe" not in c)  # only what the stack names
    assert "stopped the old PM2 process flask-backend" in result.stdout
    calls_before = len(host.calls())
    assert host.deploy(plan).returncode == 0  # the same release again: nothing is touched
    assert not any(c.startswith("pm2") for c in host.calls()[calls_before:])


def test_an_old_process_a_deploy_failed_to_stop_after_its_switch_is_stopped_by_the_next_one(host: DeployHost) -> None:
    """The review: `pm2 delete` failed after the commit; the next deploy found its release serving and said
    so, and the old process ran on, unsaved, back at every reboot."""
    old_pm2(host, "flask-backend")
    plan = host.plan(replaced_port=5000, replaced_pm2=("flask-backend",))
    (host.tmp / "pm2-delete-fails").write_text("")
    assert host.deploy(plan).returncode != 0
    (host.tmp / "pm2-delete-fails").unlink()
    again = host.deploy(plan)
    assert again.returncode == 0 and "already serving" in again.stdout
    assert "stopped the old PM2 process flask-backend" in again.stdout
    assert (host.base / "state/retired").read_text().split() == ["flask-backend"]


def test_a_failed_first_deploy_leaves_the_old_processes_serving(host: DeployHost) -> None:
    old_pm2(host, "flask-backend")
    host.script_health(9000, *["fail"] * 10)
    result = host.deploy(host.plan(replaced_port=5000, replaced_pm2=("flask-backend",)))
    assert result.returncode == 1
    assert not any(c.startswith("pm2") for c in host.calls())
    assert "127.0.0.1:5000" in host.upstream()


def test_an_old_pm2_daemon_that_is_not_running_is_not_started(host: DeployHost) -> None:
    old_pm2(host, "flask-backend", alive=False)
    result = host.deploy(host.plan(replaced_port=5000, replaced_pm2=("flask-backend",)))
    assert result.returncode == 0, result.stderr
    assert not any(c.startswith("pm2") for c in host.calls())  # any pm2 command would start the daemon


def test_an_old_pm2_pid_file_linked_to_an_endless_file_is_read_32_bytes_at_most(host: DeployHost,
                                                                              tmp_path: Path) -> None:
    """The old daemon's home is its user's: pm2.pid linked to /dev/urandom had root's bash take in 5 s of it
    (about 1 GB), and the old processes were never retired. The deploy's own line, in bash limited to
    200 MB, takes what a pid needs and no more."""
    script = deploy_script(host.plan(replaced_port=5000, replaced_pm2=("flask-backend",)), "nginx")
    (line,) = [line.strip() for line in script.splitlines() if "pm2.pid" in line and line.strip().startswith("pid=")]
    home = tmp_path / "home/.pm2"
    home.mkdir(parents=True)
    (home / "pm2.pid").symlink_to("/dev/urandom")
    result = subprocess.run(["bash", "-c", f'ulimit -v 200000; ROOT= LEGACY_HOME={home}; {line}; echo "${{#pid}}"'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and int(result.stdout) <= 32, result.stderr[-300:]


def test_a_taken_over_worker_stops_the_old_one_before_the_new_one_starts(host: DeployHost) -> None:
    old_pm2(host, "podfactory-sync")
    result = host.deploy(host.plan(port=None, instances=1, replaced_pm2=("podfactory-sync",)), proxy=None)
    assert result.returncode == 0, result.stderr
    calls = host.calls()
    start = next(i for i, c in enumerate(calls) if c.startswith("systemctl restart stackyard-mivaa-blue"))
    assert calls.index("pm2 /root/.pm2 delete podfactory-sync") < start  # never two sync jobs at once


def test_the_proxy_routes_to_the_old_process_until_the_first_deploy() -> None:
    from components.render.layout import ServicePlan
    from components.render.proxy import upstream_file

    plan = ServicePlan(name="flask", runtime="pm2", repo="r", ref="main", port=5100, replaced_port=5000)
    assert upstream_file(plan, "nginx") == "upstream stackyard_flask {\n    server 127.0.0.1:5000 max_fails=0;\n}\n"
    assert upstream_file(plan, "caddy") == "reverse_proxy 127.0.0.1:5000\n"


def upstream_ports(host: DeployHost) -> list[int]:
    return sorted(int(p) for p in re.findall(r"server 127\.0\.0\.1:(\d+)", host.upstream()))


def test_instances_or_port_changed_with_the_same_commit_take_effect(host: DeployHost) -> None:
    """A systemd template holds neither the instance count nor the port: with the same commit, scaling or
    moving the port was "already serving", the proxy and units left as they were."""
    assert host.deploy(host.plan(instances=3)).returncode == 0
    for changes, ports in (({"instances": 2}, [10000, 10001]), ({"instances": 4}, [9000, 9001, 9002, 9003]),
                           ({"instances": 3, "port": 8500}, [10500, 10501, 10502])):
        done = host.deploy(host.plan(**changes))
        assert done.returncode == 0 and "already serving" not in done.stdout, done.stdout + done.stderr
        assert sorted(unit_ports(host.running())) == ports == upstream_ports(host), (changes, host.running())
        assert host.violations() == []


def test_a_changed_build_step_with_the_same_commit_builds_a_release_of_its_own(host: DeployHost) -> None:
    """A release is built once (its marker): a changed install step with the same commit never ran, not even
    with --restart. It now makes a new release beside the serving one, which is never rebuilt in place."""
    assert host.deploy(host.plan(install=("echo one > built.txt",))).returncode == 0
    first = (host.base / "current").resolve()
    done = host.deploy(host.plan(install=("echo two > built.txt",)))
    assert done.returncode == 0 and "already serving" not in done.stdout, done.stdout
    assert (host.base / "current" / "built.txt").read_text() == "two\n"
    assert (first / "built.txt").read_text() == "one\n"  # the release that served stays as it was built
    assert host.deploy(host.plan(install=("echo two > built.txt",))).stdout.count("already serving") == 1


@pytest.mark.parametrize("new_release", ["answers", "fails"])
def test_a_torn_switch_whose_slots_both_fail_one_probe_stops_nothing_under_the_proxy(tmp_path: Path,
                                                                                      new_release: str) -> None:
    """A deploy killed after its switch (the proxy on green, `active` blue), and at the next deploy one probe
    of each slot fails (a database blip): the repair cannot tell which serves, and the deploy went on to
    stop green, the slot the proxy routes to. Green, what the proxy routes to, is now taken as the active
    slot and the deploy goes to blue; had it been refused instead, no deploy could ever fix the two."""
    host = DeployHost(tmp_path / "host")  # (its copies go beside it, not into it)
    assert host.deploy().returncode == 0
    host.commit("v2")

    tried: dict[int, DeployHost] = {}

    def killed_at(step: int) -> DeployHost:
        if step not in tried:
            tried[step] = host.copy_to(tmp_path / f"step-{step}")
            tried[step].deploy(inject=(step, "kill"))
        return tried[step]

    # The first step killed after which the proxy routes to green: the switch (found by halving, as the
    # proxy stays there from that step on), before `active` names green.
    low, high = 1, 400
    while low < high:
        middle = (low + high) // 2
        if "127.0.0.1:10000" in killed_at(middle).loaded():
            high = middle
        else:
            low = middle + 1
    torn = killed_at(low)
    assert "127.0.0.1:10000" in torn.loaded() and torn.active()[0] == "blue", low
    green = {unit for unit in torn.running() if "green" in unit}
    v3 = host.commit("v3")
    torn.script_health(10000, "fail")  # the repair's probe of green
    torn.script_health(9000, "fail", *(["fail"] * 60 if new_release == "fails" else []))  # of blue, then v3 in blue
    done = torn.deploy()
    assert torn.violations() == [], done.stdout
    if new_release == "answers":
        assert done.returncode == 0, done.stdout + done.stderr
        assert torn.active() == ("blue", v3) and "127.0.0.1:9000" in torn.loaded()
    else:
        assert done.returncode == 1 and torn.active()[0] == "green", done.stdout
        assert "127.0.0.1:10000" in torn.loaded() and green <= torn.running()  # green serves as it did


@pytest.mark.parametrize("layout", ["link above", "theirs above"])
def test_root_s_pm2_never_runs_where_the_old_app_s_user_could_move_a_directory(host: DeployHost, layout: str) -> None:
    """Round 26: the home was checked (is it a link? whose is it?), then used by path three more times. The
    old app's user, owning a directory above it, could swap that directory for a link to a root-owned one
    between the checks, and root's PM2 then ran in the user's directory, through links the user planted.
    The home is resolved once: one reached through a link is left alone, and root's is used only where no
    one else owns a directory above it."""
    old_pm2(host, "flask-backend")
    home = host.root / "home/app"
    home.mkdir(parents=True)
    os.chown(home, 65534, 65534)
    if layout == "link above":  # their directory, at the moment root looks, leads to root's own PM2
        (home / "apps").symlink_to(host.root / "root")
    else:  # a root-owned PM2 home (an old app run as root) in a directory they own
        (home / "apps/.pm2").mkdir(parents=True)
        (home / "apps/.pm2/pm2.pid").write_text(str(os.getpid()))
    result = host.deploy(host.plan(replaced_port=5000, replaced_pm2=("flask-backend",),
                                   replaced_pm2_home="/home/app/apps/.pm2"))
    assert result.returncode == 0, result.stderr
    assert not [c for c in host.calls() if c.startswith("pm2")], host.calls()
    assert "its PM2 is left alone" in result.stdout + result.stderr
