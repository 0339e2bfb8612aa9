"""A service user that plants links everywhere it may write leads root nowhere.

The review's attack: root wrote a secret file as `<files dir>/X.new` in a directory the service user
owned, so a link planted there made root write a file of the user's choosing. Now every directory root
writes a service's settings into is root's; the service user cannot plant a link there at all, and the
links it plants where it may write (its releases, shared/, its state and log directories) are never
followed by root. After every step root runs for the service (a rotated secret file and env value, a
redeploy, a backup, the watchdog, log rotation), files only root may write are as they were.
"""

from __future__ import annotations

from local import LocalStack

USER = "svc-fastapi-sample"
TARGETS = ("/root/stackyard-canary", "/etc/shadow", "/etc/cron.d/stackyard-pwned", "/etc/passwd")


def as_user(stack: LocalStack, command: str):
    return stack.ssh(f"runuser -u {USER} -- sh -c {command!r}", check=False)


def fingerprints(stack: LocalStack) -> str:
    return stack.ssh("for f in " + " ".join(TARGETS) + "; do "
                     "if [ -e \"$f\" ]; then stat -c '%n %U %a %s %Y' \"$f\"; sha256sum \"$f\"; "
                     "else echo \"$f absent\"; fi; done").stdout


def test_the_service_user_cannot_plant_a_link_where_root_writes_its_settings(stack: LocalStack) -> None:
    for directory in ("/etc/stackyard/fastapi-sample/files", "/etc/stackyard/fastapi-sample/files/secrets",
                      "/etc/stackyard/fastapi-sample/slots", "/etc/stackyard/fastapi-sample/staged",
                      "/etc/stackyard", "/srv/fastapi-sample", "/srv/fastapi-sample/releases",
                      "/var/lib/stackyard"):
        planted = as_user(stack, f"ln -s /root/stackyard-canary {directory}/token.txt.new")
        assert planted.returncode != 0, directory
        assert "Permission denied" in planted.stderr or "No such file" in planted.stderr, planted.stderr


def test_links_planted_where_the_service_user_writes_lead_root_nowhere(stack: LocalStack, s3: str) -> None:
    stack.ssh("echo untouched > /root/stackyard-canary && chmod 0600 /root/stackyard-canary")
    before = fingerprints(stack)
    release = stack.ssh("readlink -f /srv/fastapi-sample/current").stdout.strip()
    places = [f"{release}/secrets/token.txt", f"{release}/.stackyard-release", f"{release}/app/new.py",
              "/srv/fastapi-sample/shared/x.new", "/var/lib/stackyard/fastapi-sample/pwned"]
    for i, place in enumerate(places):
        target = TARGETS[i % len(TARGETS)]
        assert as_user(stack, f"rm -rf {place}; ln -s {target} {place}").returncode == 0, place
    # Everything root does for the service: a rotated secret file and env value (new release, new slot
    # copies), a redeploy, a backup of shared/, the watchdog's run, a forced log rotation.
    try:
        root_does_everything(stack)
    finally:
        for place in places:
            as_user(stack, f"rm -f {place}")
    assert fingerprints(stack) == before
    assert stack.ssh("cat /root/stackyard-canary").stdout == "untouched\n"
    assert stack.health("fastapi.stackyard.test")[0] == 200


def root_does_everything(stack: LocalStack) -> None:
    stack.ws.set_secret("local", "localFileToken", "token after the links")
    stack.ws.set_secret("local", "localApiKey", "api key after the links")
    stack.up()
    stack.ssh("/srv/fastapi-sample/deploy --restart")
    stack.ssh("/usr/local/sbin/stackyard-backup")
    stack.ssh("systemctl start stackyard-fastapi-sample-watchdog.service")
    stack.ssh("logrotate --force /etc/logrotate.d/stackyard-flask-sample")
