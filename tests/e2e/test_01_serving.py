"""After the first `pulumi up`: both services answer over HTTPS through nginx, a second `up` does
nothing, and the host is set up as docs/operating.md says (users, modes, units, firewall, databases)."""

from __future__ import annotations

from local import LocalStack


def test_each_service_answers_its_health_check_over_https_through_the_proxy(stack: LocalStack) -> None:
    for hostname, instances in (("fastapi.stackyard.test", {"9000", "9001"}), ("flask.stackyard.test", {"6000"})):
        seen = set()
        for _ in range(12):  # nginx spreads requests over the upstream's instances
            status, body = stack.health(hostname)
            assert status == 200, (hostname, body)
            seen.add(body.split('"instance":"', 1)[1].split('"', 1)[0])
        assert seen == instances, hostname


def test_the_flask_service_reaches_mariadb_and_redis_with_its_generated_passwords(stack: LocalStack) -> None:
    status, body = stack.health("flask.stackyard.test")
    assert status == 200 and '"problems":{}' in body


def test_a_second_up_changes_nothing_and_runs_no_remote_command(stack: LocalStack) -> None:
    again = stack.up()
    assert again.applied() == {}
    assert set(again.summary()["resourceChanges"]) == {"same"}
    ran = [e for e in again.events() if "resourcePreEvent" in e
           and e["resourcePreEvent"]["metadata"]["type"] == "command:remote:Command"
           and e["resourcePreEvent"]["metadata"]["op"] != "same"]
    assert ran == []


def test_service_users_own_only_their_data_and_secrets(stack: LocalStack) -> None:
    listing = stack.ssh(
        "stat -c '%n %U:%G %a' /etc/stackyard/fastapi-sample.env /etc/stackyard/flask-sample.env "
        "/etc/stackyard/fastapi-sample /etc/stackyard/flask-sample /etc/stackyard/flask-sample/files "
        "/srv/flask-sample/shared /var/lib/stackyard/flask-sample /etc/stackyard/accessories "
        "/etc/stackyard/accessories/mysql.password").stdout.split("\n")
    modes = dict(line.split(" ", 1) for line in listing if line)
    assert modes == {
        # The env files as the stack wants them: root's alone; each slot has its own copy (below).
        "/etc/stackyard/fastapi-sample.env": "root:root 600",
        "/etc/stackyard/flask-sample.env": "root:root 600",
        "/etc/stackyard/fastapi-sample": "root:svc-fastapi-sample 750",
        "/etc/stackyard/flask-sample": "root:svc-flask-sample 750",
        # Root writes here: root's, read through the group, never a directory the service user owns.
        "/etc/stackyard/flask-sample/files": "root:svc-flask-sample 750",
        "/srv/flask-sample/shared": "svc-flask-sample:svc-flask-sample 750",
        "/var/lib/stackyard/flask-sample": "svc-flask-sample:svc-flask-sample 700",
        "/etc/stackyard/accessories": "root:root 700",
        "/etc/stackyard/accessories/mysql.password": "root:root 600",
    }
    slots = stack.ssh("stat -c '%n %U:%G %a' /etc/stackyard/fastapi-sample/slots/blue/env "
                      "/etc/stackyard/flask-sample/slots/blue/env").stdout.split("\n")
    assert dict(line.split(" ", 1) for line in slots if line) == {
        "/etc/stackyard/fastapi-sample/slots/blue/env": "root:root 600",  # systemd reads it as root
        "/etc/stackyard/flask-sample/slots/blue/env": "root:svc-flask-sample 640",  # PM2 loads it as the user
    }
    users = stack.ssh("getent passwd svc-fastapi-sample svc-flask-sample").stdout
    assert users.count("/usr/sbin/nologin") == 2


def test_units_are_enabled_and_the_firewall_and_databases_are_closed(stack: LocalStack) -> None:
    enabled = stack.ssh("systemctl is-enabled stackyard-fastapi-sample-blue@9000 stackyard-fastapi-sample-blue@9001 "
                        f"{stack.serving_pm2('flask-sample')} nginx mariadb redis-server").stdout.split()
    assert enabled == ["enabled"] * 6
    # sshd: its own service on Debian 12, socket-activated on Ubuntu 24.04 (ssh.service disabled there).
    sshd = stack.ssh("systemctl is-enabled ssh ssh.socket", check=False).stdout.split()
    assert "enabled" in sshd, sshd
    ufw = stack.ssh("ufw status").stdout
    assert "Status: active" in ufw
    assert {line.split()[0] for line in ufw.splitlines() if "ALLOW" in line} == {"22/tcp", "80/tcp", "443/tcp"}
    # SSH from the host's link only (access.sshAllowFrom), in ufw's own listing: no other source.
    ssh = [line.split() for line in ufw.splitlines() if line.startswith("22/tcp")]
    assert ssh and all(fields[2] == "10.213.0.0/30" for fields in ssh), ufw
    assert "comment 'stackyard-ssh'" in stack.ssh("ufw show added").stdout
    listening = stack.ssh("ss -Hltn").stdout
    for port in ("3306", "6379"):
        addresses = {line.split()[3].rsplit(":", 1)[0] for line in listening.splitlines()
                     if line.split()[3].endswith(f":{port}")}
        assert addresses and addresses <= {"127.0.0.1", "[::1]"}, (port, addresses)


def test_python_releases_run_from_where_they_were_built(stack: LocalStack) -> None:
    # Bug 2: uv wrote the build directory's path into every entry point, and the release was renamed after.
    shebangs = stack.ssh("head -qn1 /srv/fastapi-sample/current/.venv/bin/uvicorn "
                         "/srv/flask-sample/current/.venv/bin/gunicorn").stdout.split()
    releases = stack.ssh("readlink -f /srv/fastapi-sample/current /srv/flask-sample/current").stdout.split()
    assert [s.removeprefix("#!") for s in shebangs] == [f"{r}/.venv/bin/python" for r in releases]
    assert not any(".partial" in s for s in shebangs)


def test_pm2_runs_under_its_systemd_unit_and_never_as_root(stack: LocalStack) -> None:
    # Bugs 1, 3, 4, 5: the env file readable by PM2 (the app's health needs its passwords), PM2 started from
    # the deploy's SSH session in /root, no root daemon left by the runtimes step, the processes supervised.
    daemon = stack.serving_pm2("flask-sample")
    assert stack.ssh(f"systemctl is-active {daemon}").stdout.strip() == "active"
    processes = [line.split(None, 2) for line in stack.ssh("ps -eo user:24=,unit:60=,args=").stdout.splitlines()]
    pm2 = [(user, unit) for user, unit, args in processes if "PM2" in args or "flask-sample" in args]
    assert any("God Daemon" in args for _, _, args in processes)
    assert pm2 and all(pair == ("svc-flask-sample", daemon) for pair in pm2), pm2
    roots = stack.ssh("ps -u root -o args= | grep '[G]od Daemon' || true").stdout.strip()
    assert roots == ""
    assert stack.ssh("test -e /root/.pm2", check=False).returncode != 0


def test_stack_outputs_name_the_deployed_commits_and_how_to_reach_the_host(stack: LocalStack) -> None:
    outputs = stack.ws.run("stack", "output", "--stack", "local", "--json").json()["systems"]["local"]
    for name in ("fastapi-sample", "flask-sample"):
        serving = stack.ssh(f"cat /srv/{name}/active").stdout.split()[1]
        assert outputs["services"][name] == {"host": "box", "commit": serving}
    assert outputs["hosts"]["box"]["ssh"] == "ssh root@10.213.0.2"
    assert outputs["apis"] == ["https://fastapi.stackyard.test", "https://flask.stackyard.test"]


def test_ssh_allow_lists_round_trip_through_the_real_ufw(stack: LocalStack) -> None:
    """provision.ssh_firewall against the host's own ufw, which writes rules back in its own form (a single
    address without /32 or /128): each list leaves exactly its networks tagged, and the link this machine
    connects from keeps SSH all the way through (every list holds it). The stack's own list is put back."""
    from components.render.provision import ssh_firewall

    link = "10.213.0.0/30"
    lists = [[link, "198.51.100.7/32"], [link, "198.51.100.7", "2001:db8::5/128", "203.0.113.9/24"],
             [link, "0.0.0.0/0"], [link, "2001:db8::/32"], [link]]
    try:
        for nets in lists:
            stack.ssh("bash -euo pipefail -s", stdin=ssh_firewall(22, nets))
            added = stack.ssh("ufw show added").stdout.splitlines()
            tagged = {line.split()[3] for line in added if line.endswith("comment 'stackyard-ssh'")}
            if "0.0.0.0/0" in nets:
                assert "ufw allow 22/tcp" in added and tagged == set(), added
            else:
                expected = {n.removesuffix("/32") if "." in n else n.removesuffix("/128") for n in nets}
                assert tagged == {"203.0.113.0/24" if n == "203.0.113.9/24" else n for n in expected}, added
                assert "ufw allow 22/tcp" not in added, added
            assert stack.ssh("true").returncode == 0
    finally:
        stack.ssh("bash -euo pipefail -s", stdin=ssh_firewall(22, [link]))
