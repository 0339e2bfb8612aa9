"""Root writes nothing into a directory a daemon's account owns. Debian's redis-tools makes /etc/redis
redis:redis 2770: stackyard's Redis settings were written there (a `.new` file, chown, a rename, an append
to redis.conf), so code running as redis could plant a link and have root write the Redis password over a
file root runs, and hand it to redis (round 27). They are a root-owned file now, included through the
unit's command line."""

from __future__ import annotations

import re

from components.model.host_layout import Paths
from components.render.provision import accessories_script

DAEMON_DIRECTORIES = ("/etc/redis/", "/var/lib/redis", "/var/lib/mysql", "/var/lib/postgresql")


def test_the_accessories_step_writes_nothing_where_a_daemon_could_plant_a_link() -> None:
    script = accessories_script({"redis": {}, "mysql": {"database": "app", "user": "app"},
                                 "postgresql": {"database": "app", "user": "app"}})
    command = r"(?:>>?|\bchown\b[^\n]*?|\bchmod\b[^\n]*?|\bmv\b[^\n]*?|\btee\b[^\n]*?)"
    writes = re.findall(command + r"\s*(/[^\s;|&]+)", script)
    assert not [path for path in writes if path.startswith(DAEMON_DIRECTORIES)], writes


def test_redis_reads_stackyard_s_settings_from_root_s_file_through_its_unit() -> None:
    paths = Paths()
    script = accessories_script({"redis": {}}, paths)
    conf = f"{paths.etc}/redis/stackyard.conf"
    assert f"install -d -m 0750 -o root -g redis {paths.etc}/redis" in script
    assert f"ExecStart=/usr/bin/redis-server /etc/redis/redis.conf --include {conf} " in script
    assert "ExecStart=\n" in script  # the unit's own line replaced, not a second one added
