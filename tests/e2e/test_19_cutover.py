"""Taking over a server that already runs a system (seed 003), on a fresh host seeded by hand.

The host is rebuilt from its image and set up the way seed 003's operators run theirs: MariaDB with
the app's user and data, Redis with a password in redis.conf, the Flask app in a venv under a root
PM2 (pm2 5, as an old install would have) on 127.0.0.1:5000, and nginx serving it on 80/443 from a
site of its own with a certificate in /etc/letsencrypt/live. Then stackyard runs over it:

- with the local stack as it is, the pre-flight stops `pulumi up` before any change, listing every
  conflict;
- with the takeover written into the stack (existing servers and their passwords, the old site
  and PM2 process to replace, the old port), `pulumi up` takes the host over while a steady HTTPS
  load runs: no request fails, the old app answers until the new one does, the data and both
  passwords still work, and the old PM2 process is gone.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from helpers.workspace import make_tmp

from load import Load
from local import FIGURES, LocalStack, local_host, local_project

HOSTNAME = "flask.stackyard.test"
MYSQL_PASSWORD = "legacy-mysql-Pw-1f93"
REDIS_PASSWORD = "legacy-redis-Pw-77ac"
LEGACY_PM2 = "5.4.3"

SEED = f"""set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends mariadb-server redis-server nginx nodejs npm python3-venv git \\
  openssl curl >/dev/null
npm install --global --no-audit --no-fund pm2@{LEGACY_PM2} >/dev/null 2>&1

mysql <<'SQL'
CREATE DATABASE sample;
CREATE USER 'sample'@'localhost' IDENTIFIED BY '{MYSQL_PASSWORD}';
GRANT ALL PRIVILEGES ON sample.* TO 'sample'@'localhost';
CREATE TABLE sample.notes (id INT PRIMARY KEY AUTO_INCREMENT, body TEXT NOT NULL);
INSERT INTO sample.notes (body) VALUES ('written before stackyard'), ('by the old app'), ('kept');
SQL

echo 'requirepass {REDIS_PASSWORD}' >> /etc/redis/redis.conf
systemctl restart redis-server

git clone --quiet {local_host.repo_url("flask-sample")} /opt/productivity
sed -i 's/^VERSION = "1"/VERSION = "legacy"/' /opt/productivity/backend/app.py
python3 -m venv /opt/productivity/venv
/opt/productivity/venv/bin/pip install --quiet -r /opt/productivity/backend/requirements.txt
umask 077
cat > /opt/productivity/ecosystem.config.js <<'EOF'
module.exports = {{ apps: [{{
  name: "flask-sample", cwd: "/opt/productivity", script: "/opt/productivity/venv/bin/gunicorn",
  args: "--chdir backend --bind 127.0.0.1:5000 app:app", interpreter: "none",
  env: {{ MYSQL_HOST: "127.0.0.1", MYSQL_DATABASE: "sample", MYSQL_USER: "sample",
         MYSQL_PASSWORD: "{MYSQL_PASSWORD}", REDIS_PASSWORD: "{REDIS_PASSWORD}" }},
}}] }};
EOF
umask 022
cd /root
pm2 start /opt/productivity/ecosystem.config.js >/dev/null
pm2 save >/dev/null

live=/etc/letsencrypt/live/{HOSTNAME}
install -d -m 0700 $live
openssl req -x509 -newkey rsa:2048 -nodes -days 90 -subj "/CN={HOSTNAME}" -addext "subjectAltName=DNS:{HOSTNAME}" \\
  -keyout $live/privkey.pem -out $live/fullchain.pem 2>/dev/null
cat > /etc/nginx/sites-available/productivity <<'EOF'
server {{
    listen 80;
    server_name {HOSTNAME};
    return 301 https://$host$request_uri;
}}
server {{
    listen 443 ssl;
    server_name {HOSTNAME};
    ssl_certificate /etc/letsencrypt/live/{HOSTNAME}/fullchain.pem;
    ssl_certificate_key /etc/letsencrypt/live/{HOSTNAME}/privkey.pem;
    location / {{ proxy_pass http://127.0.0.1:5000; }}
}}
EOF
ln -s /etc/nginx/sites-available/productivity /etc/nginx/sites-enabled/productivity
rm -f /etc/nginx/sites-enabled/default
nginx -t -q
systemctl reload nginx
"""


@pytest.fixture(scope="module")
def legacy(host) -> Iterator[LocalStack]:
    """A fresh host running seed 003's stack by hand, and a throwaway project of the local stack
    (without the FastAPI service, which the old server never ran) pinned to it."""
    local_host.down()
    local_host.up(fresh=True)
    tmp = make_tmp("stackyard-e2e-cutover-")
    stack = local_project(tmp, {"legacyMysqlPassword": MYSQL_PASSWORD, "legacyRedisPassword": REDIS_PASSWORD})
    stack.edit_system(lambda system: system["services"].pop("fastapi-sample"))
    stack.ssh("bash -s", stdin=SEED, timeout=900)
    # `systemctl reload nginx` returns before nginx listens on 443, and PM2 before gunicorn listens: the
    # old system is what it was once it answers (a run saw a refused connection here).
    stack.wait_healthy(HOSTNAME, timeout=60)
    try:
        yield stack
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def legacy_state(stack: LocalStack) -> dict[str, str]:
    """What the old system is, as its users and operators see it."""
    return {
        "health": str(stack.health(HOSTNAME)),
        "rows": stack.ssh(f"MYSQL_PWD='{MYSQL_PASSWORD}' mysql -usample -N -e 'SELECT body FROM sample.notes "
                          "ORDER BY id'").stdout,
        "redis": stack.ssh(f"REDISCLI_AUTH='{REDIS_PASSWORD}' redis-cli ping").stdout.strip(),
        "pm2": stack.ssh("cd /root && pm2 jlist | grep -o '\"name\":\"flask-sample\"' | sort -u").stdout.strip(),
        "sites": " ".join(stack.ssh("ls /etc/nginx/sites-enabled").stdout.split()),
        "mysql config": stack.ssh("ls /etc/mysql/mariadb.conf.d").stdout.strip(),
        "redis config": stack.ssh("md5sum /etc/redis/redis.conf").stdout.strip(),
    }


def test_the_preflight_stops_up_listing_every_conflict_and_changes_nothing(legacy: LocalStack) -> None:
    before = legacy_state(legacy)
    assert '"version":"legacy"' in before["health"] and before["redis"] == "PONG"

    result = legacy.up(check=False)

    assert result.returncode != 0
    printed = result.printed()
    report = printed[printed.find("stackyard pre-flight"):]
    FIGURES.append("cut-over pre-flight:\n" + report[:report.find("then run pulumi up again.")].rstrip())
    assert "stackyard pre-flight: host box (systems.local.hosts.box) has 5 conflict(s)" in printed, printed
    for expected in (
        "mariadb-server 1:10.11",  # installed database servers, with their versions
        "set systems.local.hosts.box.accessories.mysql.existing: true",
        "redis-server 5:7.0",
        "port 5000 (the service port of flask-sample) is held by gunicorn",
        "a PM2 process named flask-sample runs (PM2_HOME /root/.pm2)",
        f"the nginx site /etc/nginx/sites-enabled/productivity serves {HOSTNAME}",
    ):
        assert expected in printed, expected
    assert result.applied().keys() <= {"create"}
    created = result.applied().get("create", set())
    assert not any("-setup-" in name and not name.endswith("-password") for name in created), created
    assert legacy.ssh("test -e /etc/stackyard || test -e /etc/ssh/sshd_config.d/50-stackyard.conf",
                      check=False).returncode != 0
    assert legacy_state(legacy) == before


def test_taking_over_keeps_serving_keeps_the_data_and_passwords_and_retires_the_old_app(legacy: LocalStack) -> None:
    def takeover(system: dict) -> None:
        box = system["hosts"]["box"]
        box["accessories"] = {
            "mysql": {"existing": True, "database": "sample", "user": "sample",
                      "password": {"secret": "legacyMysqlPassword"}},
            "redis": {"existing": True, "password": {"secret": "legacyRedisPassword"}},
        }
        box["proxy"]["replaces"] = ["productivity"]
        flask = system["services"]["flask-sample"]
        flask["port"] = 5100  # the old app holds 5000 until it is retired
        flask["replaces"] = {"pm2": ["flask-sample"], "listen": 5000}

    legacy.edit_system(takeover)
    with Load(HOSTNAME, rate=10) as load:
        result = legacy.up()
    tally = load.tally
    FIGURES.append(f"cut-over under load: {result.seconds:.1f} s, {tally.summary()}")

    assert tally.failed == 0, tally.summary()
    assert tally.versions.get("legacy", 0) > 0 and tally.versions.get("1", 0) > 0, tally.summary()
    status, body = legacy.health(HOSTNAME)
    assert status == 200 and '"version":"1"' in body, body  # the new release, with both old passwords
    after = legacy_state(legacy)
    assert after["rows"] == "written before stackyard\nby the old app\nkept\n"
    assert after["redis"] == "PONG"
    assert after["pm2"] == ""  # the old PM2 process is gone, and saved gone
    assert "flask-sample" not in legacy.ssh("cat /root/.pm2/dump.pm2").stdout
    assert after["sites"] == "stackyard.conf"
    assert legacy.ssh("test -e /etc/stackyard/replaced/sites-enabled/productivity").returncode == 0
    assert "60-stackyard.cnf" not in after["mysql config"]  # no stackyard setting in either server
    assert legacy.ssh("test -e /etc/redis/stackyard.conf", check=False).returncode != 0
    assert "deploy flask-sample] stopped the old PM2 process flask-sample" in result.printed()


def test_the_preflight_passes_on_the_host_stackyard_now_manages(legacy: LocalStack) -> None:
    result = legacy.up("--replace", legacy.urn("local-box-setup-preflight"))
    assert "pre-flight of box: no conflicts" in result.printed()
    assert legacy.health(HOSTNAME)[0] == 200
