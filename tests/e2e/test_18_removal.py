"""A service removed from the stack is stopped on the host and loses its route; its data stays."""

from __future__ import annotations

from local import LocalStack


def test_removing_the_flask_service_stops_it_and_drops_its_route(stack: LocalStack) -> None:
    stack.ssh("echo kept > /srv/flask-sample/shared/data.txt")
    stack.remove_config("stackyard:systems.local.services.flask-sample")
    result = stack.up()
    assert result.applied().get("delete", set()) >= {"local-box-setup-flask-sample-service",
                                                      "local-box-setup-flask-sample-deploy"}
    assert "flask.stackyard.test" not in stack.ssh("cat /etc/nginx/sites-available/stackyard.conf").stdout
    status, _ = stack.health("flask.stackyard.test")
    assert status != 200
    assert stack.ssh("systemctl list-units --state=active --plain --no-legend 'stackyard-flask-sample-pm2*'"
                     ).stdout.strip() == ""
    assert stack.ssh("systemctl is-enabled stackyard-flask-sample-pm2@blue stackyard-flask-sample-pm2@green",
                     check=False).stdout.split() == ["disabled", "disabled"]
    assert stack.ssh("ps -eo args= | grep '[f]lask-sample/releases' || true").stdout.strip() == ""
    assert stack.ssh("test -e /etc/stackyard/upstreams/flask-sample.nginx", check=False).returncode != 0
    assert stack.ssh("cat /srv/flask-sample/shared/data.txt").stdout.strip() == "kept"
    assert stack.health("fastapi.stackyard.test")[0] == 200  # the other service is untouched


def test_removing_an_accessory_stops_its_server_and_keeps_its_data(stack: LocalStack) -> None:
    # The Flask service was Redis's only user; with it gone Redis can go too.
    stack.remove_config("stackyard:systems.local.hosts.box.accessories.redis")
    result = stack.up()
    assert "local-box-setup-accessory-redis" in result.applied().get("delete", set())
    assert stack.ssh("systemctl is-active redis-server", check=False).stdout.strip() == "inactive"
    assert stack.ssh("systemctl is-enabled redis-server", check=False).stdout.strip() == "disabled"
    assert stack.ssh("test -d /var/lib/redis").returncode == 0  # its data stays
    assert stack.ssh("systemctl is-active mariadb").stdout.strip() == "active"  # the other one does not move
    assert stack.health("fastapi.stackyard.test")[0] == 200
