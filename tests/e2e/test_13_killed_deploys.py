"""Deploys killed on the real host, under a fixed load, then a normal `pulumi up`.

- The deploy killed (SIGKILL) mid-switch: a watcher on the host kills it the moment its new upstream
  file is in place, before `active` names the new slot. `pulumi up` fails; the next one runs the deploy
  again, which repairs first.
- `pulumi up` itself killed (SIGKILL, its whole process group) while the deploy runs on the host: the
  stack is left locked with a pending operation. `pulumi cancel` and `pulumi refresh
  --clear-pending-creates` (docs/operating.md: "A pulumi up that was killed") let the next `up` run.

Through all of it the load sees no failed request, and at the end the new release serves from the slot
`active` names, the proxy routes there, and the other slot is stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from load import Load
from local import FIGURES, LocalStack

FASTAPI = "fastapi.stackyard.test"
REF = "stackyard:systems.local.services.fastapi-sample.source.ref"
# On the host: wait for the deploy to rewrite its upstream (the switch), then SIGKILL it at once.
WATCHER = """
old=$(cat /etc/stackyard/upstreams/fastapi-sample.nginx)
for _ in $(seq 6000); do
  if pgrep -f '/srv/fastapi-sample/deploy' >/dev/null \\
     && [ "$(cat /etc/stackyard/upstreams/fastapi-sample.nginx)" != "$old" ]; then
    pkill -KILL -f '/srv/fastapi-sample/deploy'
    echo killed > /tmp/stackyard-watcher
    exit 0
  fi
  sleep 0.01
done
echo timeout > /tmp/stackyard-watcher
"""


def consistent(stack: LocalStack, sha: str) -> None:
    """v<sha> serves from the slot `active` names; the upstream routes there; the other slot is stopped."""
    color, active_sha, *_ = stack.ssh("cat /srv/fastapi-sample/active").stdout.split()
    assert active_sha == sha
    ports = (9000, 9001) if color == "blue" else (10000, 10001)
    others = (10000, 10001) if color == "blue" else (9000, 9001)
    upstream = stack.ssh("cat /etc/stackyard/upstreams/fastapi-sample.nginx").stdout
    assert all(f"127.0.0.1:{p}" in upstream for p in ports), upstream
    listening = stack.ssh("ss -Hltn").stdout
    assert all(f":{p} " in listening for p in ports) and not any(f":{p} " in listening for p in others)


def test_a_deploy_killed_mid_switch_is_repaired_by_the_next_up(stack: LocalStack) -> None:
    sha = stack.publish("fastapi-sample", "killed-switch", tag="v-killed-switch")
    stack.set_config(REF, "v-killed-switch")
    stack.ssh("rm -f /tmp/stackyard-watcher; cat > /tmp/stackyard-watcher.sh", stdin=WATCHER)
    stack.ssh("systemd-run --unit=stackyard-e2e-watcher bash /tmp/stackyard-watcher.sh")
    with Load(FASTAPI, 20) as load:
        time.sleep(1)
        killed = stack.up(check=False)
        assert stack.ssh("cat /tmp/stackyard-watcher").stdout.strip() == "killed"
        assert killed.returncode != 0
        again = stack.up()
        time.sleep(1)
    FIGURES.append(f"deploy killed mid-switch, then pulumi up, under 20 req/s: {load.tally.summary()}")
    assert load.tally.failed == 0, load.tally.summary()
    assert "repair:" in again.printed() or "already serving" in again.printed()
    consistent(stack, sha)


def test_pulumi_up_killed_mid_deploy_leaves_a_lock_that_cancel_clears(stack: LocalStack) -> None:
    sha = stack.publish("fastapi-sample", "killed-up", tag="v-killed-up")
    stack.set_config(REF, "v-killed-up")
    ws = stack.ws
    with Load(FASTAPI, 20) as load:
        time.sleep(1)
        up = subprocess.Popen(["pulumi", "up", "--stack", "local", "--yes", "--non-interactive", "--skip-preview"],
                              cwd=ws.dir, env=ws.environment(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if stack.ssh("pgrep -f '[/]srv/fastapi-sample/deploy'", check=False).returncode == 0:
                break
            time.sleep(0.2)
        else:
            os.killpg(up.pid, signal.SIGKILL)
            raise AssertionError("the deploy never started on the host")
        os.killpg(up.pid, signal.SIGKILL)  # pulumi, its language host and its plugins
        up.wait()
        locked = stack.up(check=False)
        assert locked.returncode != 0 or "locked" in locked.output
        assert "locked" in locked.output
        ws.run("cancel", "--yes", "--stack", "local")
        ws.run("refresh", "--yes", "--stack", "local", "--clear-pending-creates")
        recovered = stack.up()
        time.sleep(1)
    FIGURES.append(f"pulumi up killed mid-deploy, cancel, refresh, up, under 20 req/s: {load.tally.summary()}")
    assert load.tally.failed == 0, load.tally.summary()
    assert recovered.returncode == 0
    consistent(stack, sha)
