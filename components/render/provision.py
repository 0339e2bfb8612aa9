"""Host provisioning scripts. Each is idempotent: running it again changes nothing that is right.

Secret values never appear in these scripts: they read 0600 files that separate steps wrote
over stdin, and pass them on with shell builtins (printf), never as a process argument.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from textwrap import indent

from ..model.host_layout import Paths
from .acme import LETS_ENCRYPT, AcmeClient, no_certificate
from .layout import ServicePlan
from .proxy import CADDY_ADMIN_DIRECTORY, CADDY_MARK
from .quoting import (
    REDIS_QUOTING_SH,
    SQL_QUOTING_SH,
    heredoc_to,
    mysql_grant_database,
    mysql_identifier,
    mysql_literal,
    postgres_identifier,
    postgres_literal,
    sh,
    sh_assignments,
    write_whole,
)
from .runtimes import RUNTIMES
from .scripts import APT_HEADER, HEADER, shell
from .trusted_paths import static_roots_check

UV_VERSION = "0.9.7"

APT = """apt_install() {
  # A fresh server runs apt at first boot (unattended upgrades): wait for the lock, then install.
  # What is installed already stays as it is: never upgraded (an upgrade of Docker, MariaDB or nginx restarts
  # what runs on it), never removed (ufw's package would take netfilter-persistent away): apt stops instead.
  local try
  for try in 1 2 3 4 5; do
    if apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install -y -qq --no-install-recommends \\
        --no-upgrade --no-remove "$@"; then
      return 0
    fi
    echo "apt-get install failed (try $try); retrying" >&2
    sleep 10
    apt-get -o DPkg::Lock::Timeout=300 update -qq || true
  done
  return 1
}
"""


ACCESSORY_UNITS = {"mysql": "mariadb", "redis": "redis-server", "postgresql": "postgresql"}
"""The systemd unit of each accessory's server on Debian and Ubuntu."""

SSHD_ALGORITHMS = "".join(f"{keyword} {','.join(names)}\n" for keyword, names in {
    "KexAlgorithms": ["sntrup761x25519-sha512@openssh.com", "curve25519-sha256", "curve25519-sha256@libssh.org"],
    "Ciphers": ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr",
                "aes192-ctr", "aes128-ctr"],
    "MACs": ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "umac-128-etm@openssh.com"],
    "HostKeyAlgorithms": ["ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com", "rsa-sha2-512",
                          "rsa-sha2-512-cert-v01@openssh.com", "rsa-sha2-256", "rsa-sha2-256-cert-v01@openssh.com"],
}.items())
"""The algorithms of the sshd drop-in (what ssh-audit finds no fault in)."""

REPLACED = """replaced() {
  # Moves PATH.new over PATH if they differ; true when it did. A config that did not change must not
  # restart the database that reads it.
  if [ -f "$1" ] && cmp -s "$1.new" "$1"; then rm -f "$1.new"; return 1; fi
  mv "$1.new" "$1"
}
"""


METADATA_GUARD = (
    heredoc_to("cat > /usr/local/sbin/stackyard-metadata-guard.new",
               "#!/usr/bin/env bash\n" + shell("metadata-guard.sh"))
    + "chmod 0755 /usr/local/sbin/stackyard-metadata-guard.new\n"
    "mv -f /usr/local/sbin/stackyard-metadata-guard.new /usr/local/sbin/stackyard-metadata-guard\n"
    + write_whole("/etc/systemd/system/stackyard-metadata-guard.service", "\n".join([
        "[Unit]",
        "Description=only root asks the cloud's metadata service, managed by stackyard",
        # Before the network, every service and Docker: nothing that could ask runs a moment unguarded,
        # and Docker finds the DOCKER-USER chain holding the rule already.
        "DefaultDependencies=no",
        "After=local-fs.target systemd-modules-load.service",
        "Before=network-pre.target sysinit.target docker.service shutdown.target",
        "Wants=network-pre.target",
        "Conflicts=shutdown.target",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        "ExecStart=/usr/local/sbin/stackyard-metadata-guard",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        ""]))
    + "systemctl daemon-reload\nsystemctl enable --quiet stackyard-metadata-guard.service\n"
    "systemctl restart stackyard-metadata-guard.service\n"
)
"""Refuses the cloud metadata service (169.254.169.254) to every user but root, and to containers."""

METADATA_UNGUARDED = (
    # metadataGuard: false. The unit goes first, so that no boot puts the rules back, then the rules, then the
    # script; each part is safe to run again, so a run killed anywhere is finished by the next.
    "systemctl disable --quiet stackyard-metadata-guard.service 2>/dev/null || true\n"
    "rm -f /etc/systemd/system/stackyard-metadata-guard.service\n"
    "systemctl daemon-reload\n"
    + heredoc_to("bash -s off", shell("metadata-guard.sh"))
    + "rm -f /usr/local/sbin/stackyard-metadata-guard\n"
)
"""Leaves the metadata service open to every user: the guard's unit, rules and script gone, where they were."""

CLAIM_HELPER = "#!/usr/bin/env bash\n" + shell("claim.sh")
"""/usr/local/sbin/stackyard-claim (components/render/shell/claim.sh)."""


SSH_ANYWHERE = ("0.0.0.0/0", "::/0")
SSH_RULE_TAG = "stackyard-ssh"
"""The comment on ufw's SSH rules for access.sshAllowFrom's networks: what a later run may remove."""


def ufw_network(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    """A network as ufw writes it back in `ufw show added`: a single address without its /32 or /128."""
    return str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)


UFW_DEFAULTS = "/etc/default/ufw"
"""ufw's settings file: IPV6=yes there lets it keep IPv6 rules."""

UFW_SSH = shell("ufw-ssh.sh")
"""ufw_open_to_all (components/render/shell/ufw-ssh.sh): the rules that let any address reach a port."""

PACKAGE_DEFAULTS = shell("package-defaults.sh")
"""debian_default_site and caddy_own_caddyfile (components/render/shell/package-defaults.sh): what a package
installed, untouched, which stackyard may turn off or replace."""


def ssh_rule_networks(allow_from: Sequence[str]) -> list[str] | None:
    """The networks of access.sshAllowFrom as ufw writes them, each once; None for a list that holds all
    of one family (0.0.0.0/0 or ::/0), which opens SSH to all."""
    networks = [ipaddress.ip_network(net, strict=False) for net in allow_from]
    if any(network.prefixlen == 0 for network in networks):
        return None
    return list(dict.fromkeys(ufw_network(network) for network in networks))


def ssh_firewall_open(ssh_port: int, allow_from: Sequence[str]) -> str:
    """The first half of ssh_firewall: the rules that let access.sshAllowFrom's networks reach ``ssh_port``
    go in, and are checked to be listed as expected. Nothing is removed: it runs before sshd moves to a
    new port, so that a run stopped anywhere never leaves sshd on a port ufw keeps closed. Needs UFW_SSH.

    A list that holds all of one family (0.0.0.0/0 or ::/0) opens SSH to all (ufw lists such a rule as the
    port's plain one), unless an operator's `ufw limit` rule opens it to all already: `ufw allow` would
    replace it, and drop its rate limit. IPv6 networks are refused, before anything changes, where ufw's
    IPv6 is off: ufw could not open SSH to them."""
    wanted = ssh_rule_networks(allow_from)
    if wanted is None:
        return f"""found=$(ufw_open_to_all {ssh_port})
if ! grep -q $'^only\\tlimit\\t' <<<"$found"; then
  ufw allow {ssh_port}/tcp >/dev/null
fi
"""
    ipv6 = [net for net in wanted if ":" in net]
    script = ""
    if ipv6:
        # ufw reads its settings as this does: the last IPV6= line, without quotes, any case.
        script += f"""if ! awk -F= '/^[A-Za-z0-9_]+="?[A-Za-z0-9_]/ && toupper($1) == "IPV6" {{
    value = tolower($2); sub(/[[:space:]]+$/, "", value); gsub(/^["\\047]+|["\\047]+$/, "", value); ipv6 = value
  }} END {{ exit ipv6 != "yes" }}' {UFW_DEFAULTS}; then
  echo {sh(f"stackyard: access.sshAllowFrom names IPv6 networks ({', '.join(ipv6)}), and ufw's IPv6 is off "
           f"(IPV6 in {UFW_DEFAULTS}): ufw could not open SSH to them. Set IPV6=yes there, or list only IPv4 "
           "networks; nothing was changed")} >&2
  exit 1
fi
"""
    rules = [f"allow from {net} to any port {ssh_port} proto tcp" for net in wanted]
    script += "".join(f"ufw allow from {sh(net)} to any port {ssh_port} proto tcp comment {SSH_RULE_TAG} >/dev/null\n"
                      for net in wanted)
    script += "listed=$(ufw show added)\n"
    script += "".join(f"""grep -qxF {sh(f"ufw {rule} comment '{SSH_RULE_TAG}'")} <<<"$listed" || {{
  echo {sh(f"stackyard: ufw does not list SSH from {net} as it was added; no SSH rule was removed")} >&2
  exit 1
}}
""" for net, rule in zip(wanted, rules, strict=True))
    return script


def ssh_firewall_close(ssh_port: int, allow_from: Sequence[str]) -> str:
    """The second half of ssh_firewall, once ssh_firewall_open's rules are in: the rules SSH no longer needs
    go. stackyard's own (tagged stackyard-ssh) that no network of the list wants, at any port (an old SSH
    port's too). With a restricted list, also any other rule that opens ``ssh_port`` to every address: a
    plain `ufw allow 22/tcp` (the open-to-all rule of an earlier run, or an operator's), `ufw limit 22`,
    `ufw allow OpenSSH`; left, it would keep SSH open to all whatever the list says. A rule that opens other
    ports too, or SSH toward one of the host's addresses, is not stackyard's to delete: the run stops there,
    naming it. Needs UFW_SSH."""
    wanted = ssh_rule_networks(allow_from)
    script = ""
    keep = ""
    if wanted is not None:
        keep = " ".join(f"{net}:{ssh_port}" for net in wanted)
        refused = (f"lets any address reach SSH (port {ssh_port}), which access.sshAllowFrom restricts. stackyard "
                   "deletes only a rule that opens SSH alone, toward every address of the host, and this one "
                   "opens more, or toward one address: delete it, or narrow it with 'from', and run again")
        # A rule that is not stackyard's to delete stops the run before any goes. The others go one at a time,
        # asked for again after each: one delete can take two listed rules (IPv4's and IPv6's).
        script += f"""found=$(ufw_open_to_all {ssh_port})
while IFS=$'\\t' read -r -a rule; do
  if [ "${{rule[0]-}}" = more ]; then
    echo "stackyard: the ufw rule '${{rule[*]:1}}' "{sh(refused)} >&2
    exit 1
  fi
done <<<"$found"
deleted=
while line=$(grep -m1 $'^only\\t' <<<"$found"); do
  IFS=$'\\t' read -r -a rule <<<"$line"
  if [ "$line" = "$deleted" ]; then
    echo "stackyard: ufw still lists the rule '${{rule[*]:1}}' after deleting it" >&2
    exit 1
  fi
  ufw delete "${{rule[@]:1}}" >/dev/null
  echo "stackyard: deleted the ufw rule '${{rule[*]:1}}': it let any address reach SSH, which" \\
    "access.sshAllowFrom restricts"
  deleted=$line
  found=$(ufw_open_to_all {ssh_port})
done
"""
    # `ufw show added` lists the rules as the commands that added them; the tagged ones no network wants go.
    return script + f"""keep={sh(keep)}
ufw show added \\
  | sed -n "s/^ufw allow from \\([^ ]*\\) to any port \\([0-9]*\\) proto tcp comment '{SSH_RULE_TAG}'$/\\1 \\2/p" \\
  | while read -r net port; do
    case " $keep " in
      *" $net:$port "*) ;;
      *) ufw delete allow from "$net" to any port "$port" proto tcp >/dev/null ;;
    esac
  done
"""


def ssh_firewall(ssh_port: int, allow_from: Sequence[str]) -> str:
    """ufw's SSH rules: open to the networks access.sshAllowFrom names, and closed to any other, on hosts
    without a cloud firewall too. The new rules go in, and are checked to be listed as expected, before old
    ones go (a network dropped from the list, or a rule open to all), so SSH is never closed to the
    networks that keep it: a rule ufw wrote back in another form would otherwise look unwanted, and go.
    base_script runs the two halves on either side of sshd's move to a new port."""
    return UFW_SSH + ssh_firewall_open(ssh_port, allow_from) + ssh_firewall_close(ssh_port, allow_from)


def base_script(*, ssh_port: int, ufw: bool, login_user: str, open_ports: Iterable[int] = (80, 443),
                ssh_allow_from: Sequence[str] = SSH_ANYWHERE, paths: Paths = Paths(),
                metadata_guard: bool = True, owner: str = "") -> str:
    """Waits for cloud-init, installs base packages, hardens sshd, enables unattended upgrades and ufw
    (``open_ports``: opened to all besides SSH, whose port only access.sshAllowFrom's rules open),
    guards the cloud's metadata service (or takes the guard away: ``metadata_guard``), and marks the
    server as the ``owner`` stack's (<project>/<stack>: the pre-flight of any other stops).

    ufw opens SSH's port before sshd moves to it, and closes what SSH no longer needs only after: a run
    stopped anywhere between (killed, or a rule ufw refuses) never leaves sshd listening where ufw lets
    nobody in."""
    root_login = "prohibit-password" if login_user == "root" else "no"
    firewall_open = firewall_close = ""
    if ufw:
        allows = "".join(f"ufw allow {port}/tcp >/dev/null\n" for port in sorted(set(open_ports) - {ssh_port}))
        firewall_open = f"{UFW_SSH}{ssh_firewall_open(ssh_port, ssh_allow_from)}{allows}\n"
        # The default policy last, with the rules in place: an active ufw that let everything in would
        # otherwise shut SSH before its rule was there, and the open half may still refuse the list.
        firewall_close = (f"\n{ssh_firewall_close(ssh_port, ssh_allow_from)}"
                          "ufw default deny incoming >/dev/null\n"
                          "ufw default allow outgoing >/dev/null\n"
                          "ufw --force enable >/dev/null\n")
    # The guard's rules (or their removal) before apt too, where iptables is there already: an earlier
    # guard's refused DNS on clouds that answer it at the metadata address, and apt could not reach a mirror.
    early_guard = ("if command -v iptables >/dev/null; then\n" + heredoc_to("  bash -s", shell("metadata-guard.sh"))
                   + "fi\n") if metadata_guard else METADATA_UNGUARDED
    return APT_HEADER + APT + f"""
if command -v cloud-init >/dev/null; then
  cloud-init status --wait >/dev/null || true
fi
{early_guard}apt-get -o DPkg::Lock::Timeout=300 update -qq
apt_install ca-certificates curl git rsync cron gzip logrotate util-linux unattended-upgrades iptables\
{' ufw' if ufw else ''}

{firewall_open}install -d -m 0755 /etc/ssh/sshd_config.d
# sshd keeps the first value it reads, and reads the drop-ins in name order before its own file: this one
# sorts first, ahead of cloud-init's 50-cloud-init.conf (which may say PasswordAuthentication yes).
rm -f /etc/ssh/sshd_config.d/50-stackyard.conf
cat > /etc/ssh/sshd_config.d/01-stackyard.conf.new <<'EOF'
# Managed by stackyard.
Port {ssh_port}
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin {root_login}
X11Forwarding no
MaxAuthTries 3
# Algorithms ssh-audit finds no fault in: no NIST curves, no ECDSA host key, no SHA-1, MACs that
# encrypt then authenticate. pulumi-command's Go client and OpenSSH's own both speak them.
{SSHD_ALGORITHMS}EOF
conf=/etc/ssh/sshd_config.d/01-stackyard.conf
cp -p "$conf" "$conf.previous" 2>/dev/null || rm -f "$conf.previous"
mv -f "$conf.new" "$conf"
if ! sshd -t; then
  # Never leave sshd a config it refuses: the next restart would lock everyone out.
  if [ -f "$conf.previous" ]; then mv -f "$conf.previous" "$conf"; else rm -f "$conf"; fi
  echo "stackyard: sshd refused the new settings; the previous ones stay" >&2
  exit 1
fi
# What sshd will run with: a main config with no Include of sshd_config.d (one kept through an upgrade), or
# one whose own settings come first, never reads these, and passwords stayed on, silently (round 29).
if effective=$(sshd -T 2>/dev/null) && ! grep -qx 'passwordauthentication no' <<<"$effective"; then
  echo "stackyard: sshd does not take $conf: /etc/ssh/sshd_config must include /etc/ssh/sshd_config.d/*.conf" \\
    "before its own settings (Debian's and Ubuntu's put 'Include /etc/ssh/sshd_config.d/*.conf' first)" >&2
  exit 1
fi
systemctl reload ssh 2>/dev/null || systemctl reload sshd
# Ubuntu 24.04 listens through ssh.socket, whose port a generator takes from sshd_config at daemon-reload:
# a reload of sshd alone never moves it (Debian's sshd listens itself). Sessions open now stay.
if systemctl is-active --quiet ssh.socket && ! ss -Hltn "sport = :{ssh_port}" | grep -q .; then
  systemctl daemon-reload
  systemctl restart ssh.socket
fi
{firewall_close}
{write_whole("/etc/apt/apt.conf.d/20auto-upgrades",
              'APT::Periodic::Update-Package-Lists "1";' + chr(10) + 'APT::Periodic::Unattended-Upgrade "1";')}\

{METADATA_GUARD if metadata_guard else ""}install -d -m 0755 {paths.etc} {paths.etc}/upstreams
{write_whole(paths.owner, owner) if owner else ""}\
{heredoc_to("cat > /usr/local/sbin/stackyard-claim.new", CLAIM_HELPER)}\
chmod 0755 /usr/local/sbin/stackyard-claim.new
mv -f /usr/local/sbin/stackyard-claim.new /usr/local/sbin/stackyard-claim
"""


def runtime_script(languages: set[str], runtimes: set[str], docker: str = "") -> str:
    """uv for Python services, Node, then what each runtime installs itself (PM2; Docker with the Compose
    plugin, ``docker`` being its steps, components/render/docker.py): only what is used."""
    steps = []
    used = [runtime for name, runtime in RUNTIMES.items() if name in runtimes]
    languages = languages.union(*(runtime.languages for runtime in used))
    if "python" in languages:
        steps.append(f"""apt_install python3 python3-venv
if ! uv --version 2>/dev/null | grep -q '{UV_VERSION}'; then
  python3 -m venv /opt/stackyard-uv
  /opt/stackyard-uv/bin/pip install --quiet 'uv=={UV_VERSION}'
  ln -sfn /opt/stackyard-uv/bin/uv /usr/local/bin/uv
fi""")
    if "node" in languages:
        steps.append("apt_install nodejs npm")
    for runtime in used:
        steps += runtime.install(docker)
    return APT_HEADER + APT + "\n" + "\n".join(steps) + "\n"


def glob_literal(path: str) -> str:
    """``path`` as a pattern of find's -path that matches it alone (its glob characters escaped)."""
    return re.sub(r"([][*?\\])", r"\\\1", path)


def foreign_app_directory(base: str) -> str:
    """A shell condition, true when the service's directory (/srv/<name>) is there and not stackyard's: a
    link, someone else's, or root's and holding something without stackyard's ``state`` directory (an app
    deployed there by hand, a Capistrano tree). Its owner and mode would be taken, and its releases pruned.
    Root's and empty passes: stackyard's first run, killed just after making it."""
    b = sh(base)
    return (f'[ -L {b} ] || {{ [ -e {b} ] && {{ [ "$(stat -c %u {b})" != 0 ] || {{ [ -n "$(ls -A {b})" ] && '
            f'{{ [ -L {b}/state ] || [ ! -d {b}/state ] || [ "$(stat -c %u {b}/state)" != 0 ]; }}; }}; }}; }}')


def service_user_script(plan: ServicePlan) -> str:
    """The service's system user and directories. It may write only shared/ (its data), its state
    directory (HOME: build caches, PM2) and the releases its deploys give it. Everything root writes for
    it is in directories root owns: its settings directory (root's, readable by its group), its files
    (root's, read through its group), the staged definitions and the slots' copies. A link planted in
    its files directory while that was the user's (an older layout) is removed, never followed. Each
    directory is set to its owner and mode every time, so a second run changes nothing."""
    base = plan.paths.app(plan.name)
    etc = f"{plan.paths.etc}/{plan.name}"
    user = sh(plan.user)
    # The directories of its files (`config/key.json`): root's, read through its group, as the files are.
    parents = sorted({"/".join(parts[:i]) for f in plan.files for parts in [f.strip("/").split("/")]
                      for i in range(1, len(parts))})
    file_directories = "".join(f"install -d -m 0750 -o root -g {user} {sh(etc + '/files/' + d)}\n" for d in parents)
    # What the stack no longer lists goes: every deploy copies the whole directory into its release, so a
    # file taken out of `files:` (a revoked credential) would otherwise reach every later release. This
    # step (user-<name>) runs before the files' writes, which come after it: none of their temporary
    # files is here yet, and a file just added is listed. -P: no link followed (the directory is root's,
    # nothing in it the service user's). Empty directories go too; the listed ones are made again below.
    kept = sorted({posixpath.normpath(f.strip("/")) for f in plan.files})
    unlisted = "".join(f" ! -path {sh(glob_literal(etc + '/files/' + k))}" for k in kept)
    # A user of that name made by someone else (an operator, an earlier tool) is used only if it is what
    # useradd --system would have made: a system user that no root-granting group holds. Otherwise the
    # service would run as a login user, or as one that sudo, docker or lxd makes root.
    not_system = f"stackyard: the user {plan.user} exists and is not a system user (uid "
    not_system_fix = ("): a service runs as a system user of its own; remove or rename that user (userdel) and "
                      "run again")
    in_group = f"stackyard: the user {plan.user} is in the group "
    in_group_fix = f", which makes it root: take it out (gpasswd -d {plan.user} <group>) and run again"
    foreign = (f"stackyard: {base} exists and is not stackyard's: the service {plan.name} needs a directory of "
               "its own there; move what is in it elsewhere, or name the service otherwise")
    return APT_HEADER + f"""if {foreign_app_directory(base)}; then
  echo {sh(foreign)} >&2
  exit 1
fi
if id -u {user} >/dev/null 2>&1; then
  uid=$(id -u {user})
  if [ "$uid" -eq 0 ] || [ "$uid" -ge 1000 ]; then
    echo {sh(not_system)}"$uid"{sh(not_system_fix)} >&2
    exit 1
  fi
  for group in $(id -nG {user}); do
    case $group in
      root|sudo|admin|wheel|docker|lxd|disk|shadow)
        echo {sh(in_group)}"$group"{sh(in_group_fix)} >&2
        exit 1;;
    esac
  done
else
  useradd --system --home-dir {sh(plan.paths.state(plan.name))} --shell /usr/sbin/nologin {user}
fi
install -d -m 0755 -o root -g root {sh(base)} {sh(base + "/releases")} {sh(base + "/slots")} {sh(base + "/state")} \\
  {sh(plan.paths.var)}
install -d -m 0750 -o {user} -g {user} {sh(base + "/shared")}
install -d -m 0700 -o {user} -g {user} {sh(plan.paths.state(plan.name))}
install -d -m 0750 -o root -g {user} {sh(etc)} {sh(etc + "/slots")}
install -d -m 0700 -o root -g root {sh(etc + "/staged")}
if [ -L {sh(etc + "/files")} ]; then rm -f {sh(etc + "/files")}; fi
install -d -m 0750 -o root -g {user} {sh(etc + "/files")}
find {sh(etc + "/files")} -mindepth 1 -type l -delete
find -P {sh(etc + "/files")} -mindepth 1 ! -type d{unlisted} -delete
find -P {sh(etc + "/files")} -mindepth 1 -type d -empty -delete
chown -R root:{user} {sh(etc + "/files")}
{file_directories}"""


def write_file_command(path: str, *, owner: str = "root", group: str | None = None, mode: str = "0600") -> str:
    """A command that writes its stdin to ``path`` atomically, never readable by anyone else meanwhile.

    The directory must be root's (it is created 0755 when missing) and not a link: the file is written
    through a new temporary file made by mktemp (O_EXCL: never an existing name, never through a link),
    given its owner and mode, then renamed over ``path`` (a link there is replaced, not followed)."""
    directory = path.rsplit("/", 1)[0] or "/"
    return (
        f"umask 077 && d={sh(directory)} && mkdir -p \"$d\" && "
        'if [ -L "$d" ] || [ "$(stat -c %u "$d")" != 0 ]; then '
        'echo "stackyard: $d is a link or not root-owned: nothing written" >&2; exit 1; fi && '
        't=$(mktemp "$d/.stackyard.XXXXXXXX") && '
        f'if ! {{ cat > "$t" && chown {sh(owner + ":" + (group or ""))} "$t" && chmod {mode} "$t" && '
        f'mv -f "$t" {sh(path)}; }}; then rm -f "$t"; exit 1; fi'
    )


def accessories_script(accessories: dict[str, dict], paths: Paths = Paths()) -> str:
    """MariaDB (for mysql), Redis and PostgreSQL on loopback, each user's password read from
    ``<etc>/accessories/<kind>.password`` (0600) into a shell variable, quoted there as its target's
    literal (components/render/quoting.py), and passed on through stdin, never as a process argument.
    Statements that hold a password run with their output hidden: an error would echo it."""
    parts = []
    # An existing server is used as it is: nothing installed, no setting, user or password touched.
    accessories = {kind: spec for kind, spec in accessories.items() if not spec.get("existing")}
    if "mysql" in accessories:
        spec = accessories["mysql"]
        database, user = spec.get("database"), spec.get("user")
        account = f"{mysql_literal(user)}@'localhost'" if user else ""
        before = [f"CREATE DATABASE IF NOT EXISTS {mysql_identifier(database)};"] if database else []
        after = ([f"GRANT ALL PRIVILEGES ON {mysql_grant_database(database)}.* TO {account};"]
                 if database and user else [])
        secret = ""
        if user:
            create = sh(f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY ")
            alter = sh(f"ALTER USER {account} IDENTIFIED BY ")
            secret = ('read_password mysql\nliteral=\nsql_literal_mysql "$pass" literal\n'
                      f"printf '%s%s;\\n%s%s;\\n' {create} \"$literal\" {alter} \"$literal\" | hidden MariaDB mysql\n")
        parts.append(
            "apt_install mariadb-server\n"
            + heredoc_to("cat > /etc/mysql/mariadb.conf.d/60-stackyard.cnf.new",
                         "[mysqld]\nbind-address = 127.0.0.1\n")
            + "if replaced /etc/mysql/mariadb.conf.d/60-stackyard.cnf; then systemctl restart mariadb; fi\n"
            "systemctl enable --quiet --now mariadb\n"
            + sql_lines(before, "mysql") + secret + sql_lines(after, "mysql"))
    if "redis" in accessories:
        # /etc/redis is the redis user's (redis-tools makes it redis:redis 2770): root writes nothing there,
        # where that user could plant a link. stackyard's settings are a file of root's, readable by the
        # redis group, that redis-server includes through its unit's command line (a drop-in: the unit's
        # own ExecStart= with --include after the config file, whose settings it overrides).
        conf = f"{paths.etc}/redis/stackyard.conf"
        unit = f"{paths.systemd}/redis-server.service.d/stackyard.conf"
        pending = f"{paths.etc}/redis/restart-pending"
        drop_in = "\n".join(["[Service]", "ExecStart=", f"ExecStart=/usr/bin/redis-server /etc/redis/redis.conf "
                             f"--include {conf} --supervised systemd --daemonize no", ""])
        parts.append(f"""apt_install redis-server
read_password redis
quoted=
redis_string "$pass" quoted
install -d -m 0750 -o root -g redis {sh(conf.rsplit("/", 1)[0])}
umask 077
{{
  echo "bind 127.0.0.1 -::1"
  echo "protected-mode yes"
  printf 'requirepass %s\\n' "$quoted"
}} > {sh(conf + ".new")}
chown root:redis {sh(conf + ".new")} && chmod 0640 {sh(conf + ".new")}
install -d -m 0755 {sh(unit.rsplit("/", 1)[0])}
{heredoc_to(f"cat > {sh(unit + '.new')}", drop_in)}\
# A restart is owed from before either file moves until Redis has restarted: a run killed in between left a
# new password on disk that Redis never loaded, and the next run found nothing to change.
if ! cmp -s {sh(conf + ".new")} {sh(conf)} || ! cmp -s {sh(unit + ".new")} {sh(unit)}; then touch {sh(pending)}; fi
replaced {sh(conf)} || true
replaced {sh(unit)} || true
if [ -e {sh(pending)} ] || ! systemctl show redis-server --property ExecStart \\
    | grep -qF -- {sh("--include " + conf)}; then
  systemctl daemon-reload
  systemctl restart redis-server
  rm -f {sh(pending)}
fi
systemctl enable --quiet --now redis-server
""")
    if "postgresql" in accessories:
        spec = accessories["postgresql"]
        database, user = spec.get("database"), spec.get("user")
        psql = "runuser -u postgres -- psql --quiet -v ON_ERROR_STOP=1"
        role = postgres_identifier(user) if user else "postgres"
        before = ([f"DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;"]
                  if user else [])
        secret = ""
        if user:
            secret = ('read_password postgresql\nliteral=\nsql_literal_pg "$pass" literal\n'
                      f"printf '%s%s;\\n' {sh(f'ALTER ROLE {role} PASSWORD ')} \"$literal\" "
                      f"| hidden PostgreSQL {psql}\n")
        after = []
        if database:
            statement = f"CREATE DATABASE {postgres_identifier(database)} OWNER {role}"
            after.append(f"SELECT {postgres_literal(statement)} WHERE NOT EXISTS "
                         f"(SELECT FROM pg_database WHERE datname = {postgres_literal(database)})\\gexec")
        parts.append("apt_install postgresql\n" + sql_lines(before, psql) + secret + sql_lines(after, psql))
    return (APT_HEADER + APT + REPLACED + accessory_passwords(paths) + "\n"
            + "\n".join(part.rstrip("\n") + "\n" for part in parts))


def accessory_passwords(paths: Paths) -> str:
    """Shell functions of the accessories step: read a password, quote it, run a statement holding it."""
    return (
        "# read_password KIND: $pass holds the accessory's password, every byte of it (trailing newlines too).\n"
        "# shellcheck disable=SC2034\n"
        # An empty password would make a MariaDB account any local user logs in as, and clear a PostgreSQL
        # role's: a chosen secret set from an unset variable (`config set --secret x "$UNSET"`) is refused.
        f"read_password() {{\n  pass=\n  IFS= read -r -d '' pass < {sh(paths.etc + '/accessories')}/\"$1.password\" "
        "|| true\n"
        '  if [ -z "$pass" ]; then\n'
        '    echo "stackyard: the $1 password is empty: set its secret (accessories.$1.password) to a password" >&2\n'
        "    return 1\n"
        "  fi\n"
        "}\n"
        "# hidden NAME COMMAND...: runs COMMAND on stdin with its output hidden (it would show the password),\n"
        "# and says only that it failed.\n"
        "hidden() {\n"
        "  local name=$1\n"
        "  shift\n"
        '  if ! "$@" >/dev/null 2>&1; then\n'
        '    echo "stackyard: setting the $name password failed (output hidden: it would show it)" >&2\n'
        "    return 1\n"
        "  fi\n"
        "}\n"
        + SQL_QUOTING_SH + REDIS_QUOTING_SH
    )


def sql_lines(statements: list[str], client: str) -> str:
    """Statements without secrets, fed to ``client`` on stdin (its output shown: it holds no password)."""
    if not statements:
        return ""
    line = "printf '%s\\n' " + " ".join(sh(s) for s in statements) + f" | {client}\n"
    # Backticks quote MariaDB's names: SQL, not shell, as the single quotes say.
    return ("# shellcheck disable=SC2016\n" if "`" in line else "") + line


def install_files(files: dict[str, tuple[str, str]]) -> str:
    """A script that writes each ``path: (content, mode)`` through a quoted heredoc no content can close,
    into ``path.new`` then renamed over ``path``: never half a file. A missing directory is created (0755);
    an existing one keeps its owner and mode. Every directory written into is root's."""
    return "set -euo pipefail\n" + "".join(
        f"mkdir -p {sh(path.rsplit('/', 1)[0])}\n"
        + heredoc_to(f"cat > {sh(path + '.new')}", content)
        + f"chmod {mode} {sh(path + '.new')}\nmv -f {sh(path + '.new')} {sh(path)}\n"
        for path, (content, mode) in sorted(files.items())
    )


UPSTREAM_TAKE_OVER = r"""# take_over PATH HEADER HOSTNAME...: a service's new upstream starts as the one that served all
# its hostnames after the last proxy step, when that was another service's (a renamed service's former self,
# which runs until its removal at the end of the update): they stay served until this service's first
# deploy switches them, where a fresh upstream would route them to slots nothing listens on yet. Only
# when every hostname had that one upstream, of this proxy: a service that takes hostnames from two, or a
# new hostname beside an old one, must not send one service's traffic to another's process.
take_over() {
  local path=$1 header=$2 host found previous="" servers
  shift 2
  [ "$#" -gt 0 ] || return 1
  for host in "$@"; do
    found=$(awk -v h="$host" '$1 == h { print $2; exit }' "$UPSTREAM_MAP" 2>/dev/null) || true
    if [ -z "$found" ] || { [ -n "$previous" ] && [ "$found" != "$previous" ]; }; then return 1; fi
    previous=$found
  done
  # Another service's upstream file of the same proxy, named as stackyard names them, and nothing else.
  if [[ ! $previous =~ ^"$UPSTREAM_DIR"/[a-z0-9][a-z0-9-]*\.(nginx|caddy)$ ]] || [ "$previous" = "$path" ] \
    || [ "${previous##*.}" != "${path##*.}" ]; then
    return 1
  fi
  servers=$(grep -E '^ *(server|reverse_proxy) 127\.0\.0\.1:[0-9]+' "$previous" 2>/dev/null) || return 1
  { if [ -n "$header" ]; then printf '%s\n' "$header"; fi
    printf '%s\n' "$servers"
    if [ -n "$header" ]; then printf '}\n'; fi; } > "$path.new"
  mv -f "$path.new" "$path"
  echo "stackyard: $path starts as $previous, which served its hostnames, until the first deploy of its service" >&2
}
"""


def initial_upstreams(upstreams: dict[str, str], hostnames: Mapping[str, Sequence[str]], paths: Paths) -> str:
    """Creates each service's upstream if it is missing or empty: from the upstream that served one of its
    ``hostnames`` after the last proxy step (take_over), else pointing at its blue slot (or the process it
    replaces). After that, upstreams are the deploys'."""
    lines = [f"UPSTREAM_DIR={sh(paths.etc + '/upstreams')}", f"UPSTREAM_MAP={sh(hostname_map_path(paths))}",
             UPSTREAM_TAKE_OVER]
    for path, content in sorted(upstreams.items()):
        header = content.splitlines()[0] if content.startswith("upstream ") else ""
        names = "".join(f" {sh(h)}" for h in hostnames.get(path, ()))
        lines.append(f"if [ ! -s {sh(path)} ] && ! take_over {sh(path)} {sh(header)}{names}; then\n"
                     f"{write_whole(path, content)}fi")
    return "\n".join(lines) + "\n"


def hostname_map_path(paths: Paths) -> str:
    return f"{paths.etc}/upstreams/hostnames"


def hostname_map(hostnames: Mapping[str, Sequence[str]], paths: Paths) -> str:
    """Which upstream serves each hostname, written once the proxy took its new configuration."""
    return write_whole(hostname_map_path(paths), "".join(
        f"{host} {path}\n" for path, hosts in sorted(hostnames.items()) for host in hosts))


NGINX_HTTP = """# Managed by stackyard: every server of this nginx, its own sites' and any other's.
server_tokens off;
# Mozilla's "intermediate" profile: forward secrecy and AEAD ciphers only (TLS 1.3's are fixed), no X448 or
# secp521r1. DHE is left out rather than given a dhparam file.
ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
ssl_ecdh_curve X25519:prime256v1:secp384r1;
ssl_session_timeout 1d;
ssl_session_cache shared:MozSSL:10m;
ssl_session_tickets off;
# A name no site serves gets no certificate (and no site's by mistake): the handshake is refused.
server {
    listen 443 ssl default_server;
    listen [::]:443 ssl default_server;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_reject_handshake on;
}
"""
"""nginx's http-level settings: /etc/nginx/conf.d/stackyard.conf."""

NAMES_CONF = "/etc/nginx/conf.d/stackyard-names.conf"


def names_bucket(hostnames: Iterable[str]) -> int:
    """nginx's server_names_hash_bucket_size for these names: a bucket holds an entry (the name, its length
    and a pointer, aligned to 8 bytes) and an end pointer, in a power of two. The default (the CPU's cache
    line, 64 bytes) holds names of 46 characters at most: a longer one made nginx refuse every site."""
    longest = max((len(h) for h in hostnames), default=0)
    needed = (longest + 10 + 7) // 8 * 8 + 8
    size = 64
    while size < needed:
        size *= 2
    return size


def server_names(hostnames: Sequence[str]) -> str:
    """The proxy step's line of nginx's server_names_hash_bucket_size (names_bucket), in a conf.d file of
    its own unless the operator's configuration sets it already, in nginx.conf or any file it loads (twice
    is an error, and nginx would refuse every site). The file before is kept as .previous for put_back."""
    return f"""cp -p {NAMES_CONF} {NAMES_CONF}.previous 2>/dev/null || rm -f {NAMES_CONF}.previous
# What nginx loads, without stackyard's own file (nginx.conf alone where the configuration does not load);
# grep reads it all (-q stopping early would end awk by SIGPIPE, which pipefail counts).
names_loaded=$(nginx -T 2>/dev/null) || names_loaded=$(cat /etc/nginx/nginx.conf 2>/dev/null) || names_loaded=
if awk -v ours={sh(f"# configuration file {NAMES_CONF}:")} '/^# configuration file /{{ skip = ($0 == ours) }} !skip' \\
    <<<"$names_loaded" | grep -E '^[[:space:]]*server_names_hash_bucket_size' >/dev/null; then
  rm -f {NAMES_CONF}
else
{write_whole(NAMES_CONF, f"server_names_hash_bucket_size {names_bucket(hostnames)};")}fi
"""


NGINX_MAIN = """# Managed by stackyard: open files for twice the worker connections (Debian's 768) and to spare.
worker_rlimit_nofile 4096;
"""
"""nginx's main-context settings: Debian and Ubuntu include /etc/nginx/modules-enabled/*.conf there."""


def certificate_script(hostname: str, *, tls: str, email: str | None, paths: Paths = Paths(),
                       acme: AcmeClient = LETS_ENCRYPT) -> str:
    """The nginx host's certificate for ``hostname``: self-signed for ``tls: internal`` (a year at most,
    what Mozilla's profiles and browsers accept, made again a month before it ends), else certbot's from
    the ``acme`` CA, through the webroot challenge the site serves on port 80. A hostname the CA gives
    none (its DNS not pointed at the host yet) gets a self-signed stand-in, so that the site still loads
    and serves the others, and is added to ``$no_certificate``, which missing_certificates reports. A
    lineage of another CA than ``acme``'s is replaced by one of this CA (changing
    `proxy.acme.directory` takes effect)."""
    # The hostname also goes inside double-quoted words (-subj, -addext): a hostname's characters only.
    if not re.fullmatch(r"[a-z0-9.-]+", hostname):
        raise ValueError(f"not a hostname the certificate step can quote: {hostname!r}")
    live = f"{paths.certs}/{hostname}"
    chain, key = sh(f"{live}/fullchain.pem"), sh(f"{live}/privkey.pem")
    # X.509 holds at most 64 characters in a common name, and a longer valid hostname made openssl fail with
    # nothing said: such a certificate names its hostname in subjectAltName alone, as browsers read it.
    subject = f"/CN={hostname}" if len(hostname) <= 64 else "/"
    stand_in = f"""if ! openssl x509 -checkend 2592000 -noout -in {chain} 2>/dev/null; then
  install -d -m 0700 {sh(live)}
  if ! openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "{subject}" \\
      -addext "subjectAltName=DNS:{hostname}" -keyout {key} -out {chain} 2>/dev/null; then
    echo "stackyard: openssl could not make a certificate of {hostname}" >&2
    exit 1
  fi
fi"""
    if tls == "internal":
        return stand_in
    mail = f"--email {sh(email)}" if email else "--register-unsafely-without-email"
    renewal = f"{paths.certs.rsplit('/', 1)[0]}/renewal/{hostname}.conf"
    aside = f"{paths.set_aside}/{hostname}"
    certbot = (f"{acme.certbot_environment(paths)}certbot certonly --webroot --webroot-path {paths.acme_root} "
               f"--domain {sh(hostname)} {acme.certbot_options()}--non-interactive \\\n    --agree-tos {mail} "
               "--deploy-hook 'systemctl reload nginx'")
    # Certbot's own certificate, or none yet. What `tls: internal` (or a stand-in) left there is
    # stackyard's self-signed one: certbot would make its lineage beside it (<hostname>-0001), the site
    # would go on serving the old one, and nothing would renew it. It is set aside while certbot makes its
    # own, and comes back if certbot fails; a run stopped meanwhile left nothing where nginx reads it, so
    # this step and every deploy's reload (proxy-nginx.sh) first put a set-aside one back.
    return f"""if [ ! -e {sh(live)} ] && [ -e {sh(aside)} ]; then mv {sh(aside)} {sh(live)}; fi
if [ ! -f {sh(renewal)} ]; then
  if [ -e {sh(live)} ]; then
    install -d -m 0700 {sh(paths.set_aside)}
    rm -rf {sh(aside)}
    mv {sh(live)} {sh(aside)}
  fi
  if {certbot}; then
    rm -rf {sh(aside)}
  else
    if [ ! -e {sh(live)} ] && [ -e {sh(aside)} ]; then mv {sh(aside)} {sh(live)}; fi
    {indent(stand_in, "    ").strip()}
    no_certificate+=({sh(hostname)})
  fi
elif ! grep -qxF {sh("server = " + acme.directory)} {sh(renewal)}; then
  if ! {certbot} --cert-name {sh(hostname)} --force-renewal; then
    no_certificate+=({sh(hostname)})
  fi
fi"""


RESTORE_CERTIFICATES = "/usr/local/sbin/stackyard-restore-certificates"
NGINX_TEST = "/usr/sbin/nginx -t -q -g 'daemon on; master_process on;'"
"""Debian's and Ubuntu's nginx.service check before a start (its ExecStartPre=)."""


def certificates_restorer(paths: Paths, wait: int = 60) -> str:
    """RESTORE_CERTIFICATES: puts back, under the certificates lock, each certificate set aside; after
    ``wait`` seconds without the lock, leaves it to nginx's own check."""
    return (HEADER + sh_assignments({"CERTS": paths.certs, "SET_ASIDE": paths.set_aside,
                                           "CERTIFICATES_LOCK": paths.certificates_lock})
            + shell("certificates-aside.sh")
            + '[ -d "${CERTIFICATES_LOCK%/*}" ] || exit 0\n'
            # A minute at most, below systemd's start timeout: a holder that reloads nginx (a deploy, certbot's
            # hook) waits for this very start, and nginx's own check then decides, as without the restore.
            + f'{{\n  flock --wait {wait} 8 || exit 0\n  restore_set_aside_certificates\n}} 8>"$CERTIFICATES_LOCK"\n')


def nginx_start_restores_certificates(paths: Paths) -> str:
    """nginx's every start (a boot, a package upgrade's restart) first puts back a certificate the
    certificates step set aside: a step killed while certbot worked left nothing where the site reads it,
    and nginx would not start until the next deploy or `up`. A drop-in's ExecStartPre= runs after the
    unit's own `nginx -t`, so the drop-in lists the unit's again, after the restore."""
    start = f"{paths.systemd}/nginx.service.d/stackyard-certificates.conf"
    drop_in = "\n".join(["[Service]", "ExecStartPre=", f"ExecStartPre={RESTORE_CERTIFICATES}",
                         f"ExecStartPre={NGINX_TEST}", ""])
    # A run killed between the write and systemd's reload is finished by the next: it asks systemd what it
    # loaded (and whether the files changed since), not whether this run changed them.
    return (heredoc_to(f"cat > {RESTORE_CERTIFICATES}.new", certificates_restorer(paths))
            + f"chmod 0755 {RESTORE_CERTIFICATES}.new\nmv -f {RESTORE_CERTIFICATES}.new {RESTORE_CERTIFICATES}\n"
            + f"install -d -m 0755 {sh(start.rsplit('/', 1)[0])}\n"
            + write_whole(start, drop_in)
            + f"if ! systemctl show nginx --property ExecStartPre | grep -qF {sh(RESTORE_CERTIFICATES)} \\\n"
              "    || [ \"$(systemctl show nginx --property NeedDaemonReload --value)\" = yes ]; then\n"
              "  systemctl daemon-reload\nfi\n")


def certificates_locked(certs: Sequence[str], paths: Paths) -> str:
    """The hostnames' certificate steps under the lock a deploy's reload takes to put a set-aside
    certificate back (proxy-nginx.sh): while certbot works, its live directory stays empty."""
    return (f"install -d -m 0755 -o root -g root {sh(paths.var)}\nno_certificate=()\n"
            f"exec 8>{sh(paths.certificates_lock)}\n"
            "flock 8\n" + "\n".join(certs) + "\nexec 8>&-\n")


NO_SITES_ENABLED = ("stackyard: /etc/nginx/nginx.conf includes no /etc/nginx/sites-enabled/ (nginx.org's package, "
                    "or a trimmed nginx.conf): stackyard's site would not load; add the line "
                    "'include /etc/nginx/sites-enabled/*;' to its http block, as Debian's nginx.conf has it")
"""The nginx step's and the pre-flight's word for an nginx that would not load stackyard's site."""


def nginx_setup_script(hostnames: Sequence[str], *, tls: str, email: str | None, site: str, bootstrap: str,
                       upstreams: dict[str, str], replaces: Sequence[str] = (), paths: Paths = Paths(),
                       static: Iterable[str] = (), served: Mapping[str, Sequence[str]] | None = None,
                       acme: AcmeClient = LETS_ENCRYPT) -> str:
    """Installs nginx, gets a certificate per hostname (certbot webroot from the ``acme`` CA, or
    self-signed for ``tls: internal``) unless one is there already, then installs the full site and
    disables the sites it ``replaces``, in one checked reload. Upstream files are written only if
    missing: after the first deploy they belong to the deploy script. First of all, the ``static`` roots
    must be root's alone (trusted_paths). A hostname the CA gives nothing gets a stand-in: the certificates
    step after it (certificates_script) says so."""
    certs = [certificate_script(hostname, tls=tls, email=email, paths=paths, acme=acme) for hostname in hostnames]
    certbot = tls != "internal" and bool(hostnames)
    served = served or {}
    writes = initial_upstreams(upstreams, served, paths)
    packages = "nginx openssl" + (" certbot" if certbot else "")
    # certbot's webroot challenge needs port 80 answering for the hostnames before the full site (which
    # names the certificates) can load: a bootstrap site, only while a certificate is missing.
    bootstrap_needed = " || ".join(f"[ ! -f {paths.certs}/{h}/fullchain.pem ]" for h in hostnames)
    # Checked before it is loaded, and taken out again if nginx refuses it: a reload nginx refused, then the
    # restart after it, stopped every site nginx served, the old ones too (round 29).
    bootstrap_step = "" if tls == "internal" or not hostnames else f"""\
if [ ! -s /etc/nginx/sites-available/stackyard.conf ] && {{ {bootstrap_needed}; }}; then
{write_whole("/etc/nginx/sites-available/stackyard.conf", bootstrap)}\
ln -sfn /etc/nginx/sites-available/stackyard.conf /etc/nginx/sites-enabled/stackyard.conf
if ! nginx -t -q; then
  rm -f /etc/nginx/sites-enabled/stackyard.conf /etc/nginx/sites-available/stackyard.conf
  echo "stackyard: nginx refuses the site that answers the certificates' challenges (see nginx -t above)" >&2
  exit 1
fi
systemctl reload nginx || systemctl restart nginx
fi
"""
    obtain = certificates_locked(certs, paths) if certbot else "\n".join(certs) + "\n"
    sites = " ".join(sh(s) for s in replaces)
    return APT_HEADER + static_roots_check(static) + APT + f"""apt_install {packages}
{nginx_start_restores_certificates(paths)}{server_names(hostnames)}\
install -d -m 0755 {paths.acme_root} {paths.etc}/upstreams
{writes}
{(acme if certbot else LETS_ENCRYPT).install_for_certbot(paths)}{bootstrap_step}{obtain}
{heredoc_to("cat > /etc/nginx/sites-available/stackyard.conf.new", site)}{heredoc_to(
    "cat > /etc/nginx/conf.d/stackyard.conf.new", NGINX_HTTP)}{heredoc_to(
    "cat > /etc/nginx/modules-enabled/99-stackyard-main.conf.new", NGINX_MAIN)}\
for f in sites-available/stackyard.conf conf.d/stackyard.conf modules-enabled/99-stackyard-main.conf; do
  cp "/etc/nginx/$f" "/etc/nginx/$f.previous" 2>/dev/null || rm -f "/etc/nginx/$f.previous"
  mv "/etc/nginx/$f.new" "/etc/nginx/$f"
done
ln -sfn /etc/nginx/sites-available/stackyard.conf /etc/nginx/sites-enabled/stackyard.conf
# The sites stackyard's replaces (Debian's own default, and proxy.replaces) leave in the same checked reload,
# kept under {paths.etc}/replaced: what served before keeps serving until this reload, and comes back if
# nginx refuses the new site. A default site that is not Debian's own is the operator's: the pre-flight
# stops on it unless proxy.replaces names it.
{PACKAGE_DEFAULTS}disabled=()
replaced_sites=({sites})
if debian_default_site; then replaced_sites+=(default); fi
for site in "${{replaced_sites[@]}}"; do
  for f in /etc/nginx/sites-enabled/"$site" /etc/nginx/conf.d/"$site"; do
    if [ -e "$f" ] || [ -L "$f" ]; then
      kept="{paths.etc}/replaced/${{f#/etc/nginx/}}"
      install -d -m 0700 "${{kept%/*}}"
      mv "$f" "$kept"
      disabled+=("$f")
    fi
  done
done
put_back() {{
  for f in sites-available/stackyard.conf conf.d/stackyard.conf modules-enabled/99-stackyard-main.conf \\
      conf.d/stackyard-names.conf; do
    if [ -f "/etc/nginx/$f.previous" ]; then mv "/etc/nginx/$f.previous" "/etc/nginx/$f"; else rm -f "/etc/nginx/$f"; fi
  done
  if [ ! -f /etc/nginx/sites-available/stackyard.conf ]; then rm -f /etc/nginx/sites-enabled/stackyard.conf; fi
  for f in "${{disabled[@]}}"; do mv "{paths.etc}/replaced/${{f#/etc/nginx/}}" "$f"; done
}}
if ! nginx -t; then
  put_back
  echo "nginx rejected the new site; the previous configuration stays" >&2
  exit 1
fi
# An nginx.conf that includes no sites-enabled/ (nginx.org's packages, a trimmed one) passes nginx -t without
# stackyard's site: the sites it replaces would go, and nothing would serve their names.
# (Read whole first: grep -q stopping at its match would end nginx -T by SIGPIPE, which pipefail counts.)
loaded=$(nginx -T 2>/dev/null || true)
if ! grep -qxF '# configuration file /etc/nginx/sites-enabled/stackyard.conf:' <<<"$loaded"; then
  put_back
  echo {sh(NO_SITES_ENABLED)} >&2
  exit 1
fi
systemctl enable --quiet nginx
systemctl reload nginx || systemctl restart nginx
{hostname_map(served, paths)}"""


def caddy_setup_script(caddyfile: str, upstreams: dict[str, str], paths: Paths = Paths(),
                       static: Iterable[str] = (), served: Mapping[str, Sequence[str]] | None = None,
                       acme: AcmeClient | None = None, hostnames: Sequence[str] = ()) -> str:
    """Installs Caddy and its Caddyfile, in a checked reload; the ``static`` roots, which Caddy serves
    following any link, must be root's alone first (trusted_paths). With an ``acme`` CA (``tls:
    letsencrypt``) Caddy asks for the ``hostnames``' certificates after the reload: the certificates step
    (certificates_script) waits for them."""
    served = served or {}
    writes = initial_upstreams(upstreams, served, paths)
    # openssl: the certificates step asks the proxy for each hostname's certificate with s_client.
    checked = acme is not None and bool(hostnames)
    return APT_HEADER + static_roots_check(static) + APT + f"""apt_install caddy{" openssl" if checked else ""}
install -d -m 0755 {paths.etc}/upstreams
{writes}{acme.install_for_caddy(paths) if acme is not None else ""}
# Caddy's admin API on a socket only caddy (and root) reach, not on localhost:2019 (proxy.CADDY_ADMIN). A
# running Caddy still listening there cannot take the new Caddyfile by a reload: it is restarted, once.
install -d -m 0755 /etc/systemd/system/caddy.service.d
cat > /etc/systemd/system/caddy.service.d/stackyard-admin.conf.new <<'EOF'
[Service]
RuntimeDirectory={CADDY_ADMIN_DIRECTORY.removeprefix("/run/")}
RuntimeDirectoryMode=0700
EOF
mv -f /etc/systemd/system/caddy.service.d/stackyard-admin.conf.new \\
  /etc/systemd/system/caddy.service.d/stackyard-admin.conf
systemctl daemon-reload
# A Caddyfile stackyard did not write is kept once, under {paths.etc}/replaced, before it is replaced.
if [ -f /etc/caddy/Caddyfile ] && ! grep -q '^{CADDY_MARK}' /etc/caddy/Caddyfile; then
  install -d -m 0700 {paths.etc}/replaced
  cp -p /etc/caddy/Caddyfile {paths.etc}/replaced/Caddyfile
fi
cat > /etc/caddy/Caddyfile.new <<'EOF'
{caddyfile}EOF
if ! caddy validate --adapter caddyfile --config /etc/caddy/Caddyfile.new >/dev/null; then
  echo "caddy rejected the new Caddyfile; the previous one stays" >&2
  caddy validate --adapter caddyfile --config /etc/caddy/Caddyfile.new || true
  exit 1
fi
mv /etc/caddy/Caddyfile.new /etc/caddy/Caddyfile
systemctl enable --quiet caddy
systemctl reload caddy || systemctl restart caddy
{hostname_map(served, paths)}{(acme or LETS_ENCRYPT).caddy_cleanup(paths)}\
{LETS_ENCRYPT.install_for_certbot(paths)}"""


def certificates_script(hostnames: Sequence[str], *, caddy: bool, email: str | None, acme: AcmeClient,
                        paths: Paths = Paths()) -> str:
    """The proxy's certificates step, after its setup: it fails, naming each hostname the CA gave no
    certificate and saying what to do, once everything else is in place and serving. The deploys do not
    wait for it: one hostname whose DNS is not there yet holds back no service, and an accessory's new
    password never reaches its server without reaching the services too. Each `up` after a failure runs
    it again: certbot asks for the missing certificates again (each found in place is left alone);
    Caddy, which keeps asking by itself, is given a minute to have them."""
    if caddy:
        return APT_HEADER + caddy_certificates(hostnames) + missing_certificates(acme, caddy=True)
    certs = [certificate_script(hostname, tls="letsencrypt", email=email, paths=paths, acme=acme)
             for hostname in hostnames]
    return APT_HEADER + certificates_locked(certs, paths) + missing_certificates(acme, caddy=False)


def caddy_certificates(hostnames: Sequence[str], seconds: int = 60) -> str:
    """Caddy asks its CA in the background after a reload: wait (a minute at most, all hostnames
    together) until it serves a certificate for each hostname, and list those it does not."""
    return f"""no_certificate=()
deadline=$((SECONDS + {seconds}))
hostnames=({" ".join(sh(h) for h in hostnames)})
for hostname in "${{hostnames[@]}}"; do
  until timeout 5 openssl s_client -connect 127.0.0.1:443 -servername "$hostname" </dev/null 2>/dev/null \\
      | grep -q '^-----BEGIN CERTIFICATE-----'; do
    if [ "$SECONDS" -ge "$deadline" ]; then no_certificate+=("$hostname"); continue 2; fi
    sleep 1
  done
done
"""


def missing_certificates(acme: AcmeClient, *, caddy: bool) -> str:
    """The end of the certificates step (certificates_script): fail, naming each hostname in
    ``$no_certificate`` and what to do. Everything else is in place and serving by then."""
    # The message, quoted, with the shell's "$hostname" wherever it names the hostname.
    message = '"$hostname"'.join(sh(part) for part in no_certificate("\0", acme.directory, caddy=caddy).split("\0"))
    return f"""for hostname in "${{no_certificate[@]}}"; do
  echo {message} >&2
done
if [ "${{#no_certificate[@]}}" -gt 0 ]; then exit 1; fi
"""
