"""The pre-flight of a host: before stackyard changes anything on it, look for what it would collide with.

A server that already runs a system (seed 003: MySQL, Redis, nginx on 80/443, Flask under a root
PM2 on :5000) would be damaged by a plain provisioning run: MariaDB installed over its MySQL, its
passwords rotated, Redis locked with a new password, nginx fighting Flask for a port, two copies of
a sync job. The pre-flight finds each such conflict, and stops `pulumi up` with one message that
lists them all and says how the stack file takes each over. It changes nothing, and it passes on a
host stackyard already manages (its own servers, ports and sites are known to it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from shlex import quote

from ..model.host_layout import ACCESSORY_PORTS, COLORS, Paths
from .layout import ServicePlan
from .provision import NO_SITES_ENABLED, PACKAGE_DEFAULTS, foreign_app_directory
from .proxy import CADDY_MARK
from .runtimes import runtime_of

DATABASE_PACKAGES = {
    "mysql": ["mariadb-server", "mysql-server", "mysql-community-server", "percona-server-server"],
    "redis": ["redis-server", "redis"],
    "postgresql": ["postgresql", "postgresql-[0-9]*"],
}
"""Debian and Ubuntu packages that put each accessory's kind of server on a host."""

ACCESSORY_LISTENERS = {"mysql": "mariadbd mysqld", "redis": "redis-server", "postgresql": "postgres"}
"""The processes of each accessory's packages that may hold its port (check_port, packaged)."""

DATABASE_NAMES = {"mysql": "MySQL or MariaDB", "redis": "Redis", "postgresql": "PostgreSQL"}


@dataclass(frozen=True)
class PreflightPlan:
    """What the pre-flight of one host knows of the stack: names, ports and takeovers, no secrets."""

    system: str
    """The system's name (messages give stack file paths)."""
    host: str
    """The host's name in its system."""
    accessories: Mapping[str, bool]
    """kind -> existing (taken over as it is) or not (stackyard installs it)."""
    services: Sequence[ServicePlan]
    proxy: str | None = None
    """caddy, nginx or None."""
    tls: str = "letsencrypt"
    proxy_replaces: Sequence[str] = ()
    hostnames: Sequence[str] = ()
    """Every hostname the proxy serves (proxy.served_hostnames)."""
    ufw: bool = False
    """Whether the base step turns ufw on (deny incoming)."""
    ssh_port: int = 22
    open_ports: Sequence[int] = ()
    """What ufw opens besides SSH: 80, 443 and openPorts."""
    metadata_guard: bool = True
    """Whether the base step refuses the cloud's metadata service to every user but root."""
    owner: str = ""
    """The stack that provisions the host (<project>/<stack>); the server marked as another's is a conflict."""
    paths: Paths = Paths()

    @property
    def path(self) -> str:
        return f"systems.{self.system}.hosts.{self.host}"


def _ports(plan: PreflightPlan) -> list[str]:
    """check_port lines: each port stackyard needs, and who may hold it (its own processes)."""
    lines = []
    if plan.proxy is not None:
        for port, what in ((80, "HTTP"), (443, "HTTPS")):
            lines.append(f"check_port {port} {plan.proxy} '' {quote(f'the proxy {what} port')}")
    # A database stackyard installs listens on its port: one there already (in a container, or built by
    # hand) would be fought at every boot by the package's server, enabled by its install.
    for kind, existing in sorted(plan.accessories.items()):
        if not existing:
            lines.append(f"check_port {ACCESSORY_PORTS[kind]} {quote(ACCESSORY_LISTENERS[kind])} '' "
                         f"{quote(f'the {kind} accessory port')}")
    for service in plan.services:
        if service.port is None:
            continue
        if plan.proxy is not None:
            lines.append(f"check_port {service.port} {plan.proxy} '' "
                         f"{quote(f'the service port of {service.name}')}")
        # An instance runs as the service user; a runtime may name other holders (Docker's proxy).
        holders = quote(runtime_of(service.runtime).port_holders)
        for color in ("blue", "green"):
            for port in service.slot_ports(color):
                lines.append(f"check_port {port} {holders} {service.user} "
                             f"{quote(f'an instance port of {service.name}')}")
    return lines


def _accessories(plan: PreflightPlan) -> list[str]:
    lines = []
    for kind, existing in sorted(plan.accessories.items()):
        packages = " ".join(quote(p) for p in DATABASE_PACKAGES[kind])
        field = f"{plan.path}.accessories.{kind}"
        marker = f"{plan.paths.etc}/accessories/{kind}.password"
        if existing:
            lines.append(f"""found=$(servers_installed {packages})
if [ -z "$found" ]; then
  conflict {quote(f"{field}.existing is true, but no {DATABASE_NAMES[kind]} server package is installed: "
                  "remove existing to have stackyard install one")}
else
  echo "{kind}: $found, taken over as it is"
fi""")
        else:
            password = "its password secret, if it has one" if kind == "redis" else "the password secret of its user"
            lines.append(f"""found=$(servers_installed {packages})
if [ -n "$found" ] && [ ! -e {marker} ]; then
  conflict "$found is installed, and stackyard did not install it: set {field}.existing: true (with \\
{password}) to use it as it is, or remove it from the host"
fi""")
    return lines


def _processes(plan: PreflightPlan) -> list[str]:
    lines = []
    for service in plan.services:
        field = f"systems.{plan.system}.services.{service.name}.replaces"
        if service.name not in service.replaced_pm2:
            lines.append(f"""if printf '%s\\n' "${{pm2_processes[@]}}" | grep -qx {quote(service.name)}; then
  conflict "a PM2 process named {service.name} runs ($(pm2_home_of {quote(service.name)})), and the service \\
{service.name} would run beside it: list it in {field}.pm2 (stopped once the service serves), or delete it"
fi""")
        if service.name not in service.replaced_units:
            lines.append(f"""if systemctl is-active --quiet {quote(service.name + '.service')}; then
  conflict "the systemd unit {service.name}.service runs, and the service {service.name} would run beside it: \\
list it in {field}.systemd (stopped once the service serves), or stop and disable it"
fi""")
    return lines


LISTED_PROJECT = '{{.Label "com.docker.compose.project"}} {{.Label "com.docker.compose.project.config_files"}}'
"""What `docker ps` says of a container: its compose project and the definition it came from."""


def _compose_projects(plan: PreflightPlan) -> list[str]:
    """A service's slots are the Docker Compose projects <name>-blue and <name>-green, whatever its runtime:
    a deploy takes them down or up with --remove-orphans, and a removal takes them down. An operator's own
    project of that name (blue/green run by hand) would be stopped, or taken over, before anything of the
    service serves. stackyard's are told by their definition, /etc/stackyard/<name>/compose.<colour>.yml."""
    lines = []
    for service in plan.services:
        projects = [f"{service.name}-{color}" for color in COLORS]
        filters = " ".join(f"--filter label=com.docker.compose.project={p}" for p in projects)
        # Its definitions are compose's, whatever the service's runtime now (one moved off compose).
        ours = " | ".join(quote(runtime_of("compose").definition_path(service, color)) for color in COLORS)
        lines.append(f"""if command -v docker >/dev/null; then
  while read -r project config; do
    [ -n "$project" ] || continue
    case $config in {ours}) continue ;; esac
    conflict "the Docker Compose project $project has containers (from ${{config:-an unknown file}}), and the \\
service {service.name}'s slots are the compose projects {' and '.join(projects)}: stackyard would take it \\
down or over; give the project another name (docker compose -p), or remove it"
  done < <(timeout 20 docker ps --all {filters} \\
             --format {quote(LISTED_PROJECT)} \\
             2>/dev/null | sort -u)
fi""")
    return lines


def _directories(plan: PreflightPlan) -> list[str]:
    """A service's directory that is someone else's (an app deployed by hand in /srv/<name>): its setup would
    take it over, root's and locked, before anything of the service serves."""
    lines = []
    for service in plan.services:
        base = plan.paths.app(service.name)
        lines.append(f"""if {foreign_app_directory(base)}; then
  conflict {quote(f"{base} exists and is not stackyard's: the service systems.{plan.system}.services.{service.name} "
                  "would take it (its owner, its mode, old releases); move what is in it elsewhere, or name the "
                  "service otherwise")}
fi""")
    return lines


def _sites(plan: PreflightPlan) -> list[str]:
    if plan.proxy is None:
        return []
    replaces = " ".join(quote(s) for s in plan.proxy_replaces)
    field = f"{plan.path}.proxy.replaces"
    hostnames = " ".join(quote(h) for h in plan.hostnames)
    lines = [f"""replaced_sites=({replaces})
hostnames=({hostnames})
is_replaced() {{ [[ " ${{replaced_sites[*]:-}} " == *" $1 "* ]]; }}"""]
    if plan.proxy == "nginx":
        lines.append(PACKAGE_DEFAULTS + f"""\
if [ -e /etc/nginx/sites-enabled/default ] && ! is_replaced default && ! debian_default_site; then
  conflict "the nginx site /etc/nginx/sites-enabled/default is not Debian's own (changed, another file, or a site \
of the operator's in /var/www/html), and stackyard turns Debian's default site off: list default in {field} to \
replace it (what it serves goes; a copy is kept), or move what it serves into a site of its own"
fi""")
        # An nginx there already whose configuration includes no sites-enabled/ would not load stackyard's site.
        # (Read whole first: grep -q stopping at its match would end nginx -T by SIGPIPE, which pipefail counts.)
        lines.append(f"""if command -v nginx >/dev/null && loaded=$(nginx -T 2>/dev/null) \\
    && ! grep -Eq '^[[:space:]]*include[[:space:]]+(/etc/nginx/)?sites-enabled/' <<<"$loaded"; then
  conflict {quote(NO_SITES_ENABLED.removeprefix("stackyard: "))}
fi""")
        lines.append(f"""for site in /etc/nginx/sites-enabled/* /etc/nginx/conf.d/*.conf; do
  [ -e "$site" ] || continue
  name=${{site##*/}}
  if [ "$name" = stackyard.conf ] || is_replaced "$name"; then continue; fi
  for hostname in "${{hostnames[@]}}"; do
    named="^[[:space:]]*server_name([[:space:]][^;]*)?[[:space:]]${{hostname//./\\\\.}}([[:space:];]|$)"
    if grep -Eq "$named" "$site"; then
      conflict "the nginx site $site serves $hostname: list $name in {field} (disabled when stackyard's site is \\
enabled, in one checked reload), or remove it"
    fi
  done
  if grep -Eq 'default_server' "$site" && grep -Eq '^[[:space:]]*proxy_pass' "$site"; then
    conflict "the nginx site $site proxies every hostname it does not know (default_server): list $name in \\
{field}, or remove it"
  fi
done""")
        # A site replaced goes whole: a name it serves that the stack does not would go offline with it.
        lines.append(f"""for name in "${{replaced_sites[@]}}"; do
  for site in /etc/nginx/sites-enabled/"$name" /etc/nginx/conf.d/"$name"; do
    [ -e "$site" ] || continue
    while read -r other; do
      if [ -z "$other" ] || [ "$other" = _ ] || [ "$other" = '""' ] \\
          || [[ " ${{hostnames[*]:-}} " == *" $other "* ]]; then continue; fi
      conflict "the nginx site $site, replaced ({field}), also serves $other, which the stack does not serve: \\
it would go offline with it; move it into a site of its own first"
    done < <(grep -hoE '^[[:space:]]*server_name[^;]*' "$site" | sed -E 's/^[[:space:]]*server_name//' \\
               | tr -s ' \\t' '\\n' | sort -u)
  done
done""")
    else:
        # The Caddyfile goes whole: one that is not the package's own serves something of the operator's (a
        # static site, a PHP app, sites in files it imports), and is taken only where proxy.replaces names
        # it, and then only while every site address in it is a name the stack serves.
        lines.append(PACKAGE_DEFAULTS + f"""\
if [ -f /etc/caddy/Caddyfile ] && ! grep -q '^{CADDY_MARK}' /etc/caddy/Caddyfile && ! caddy_own_caddyfile; then
  if ! is_replaced Caddyfile; then
    conflict "/etc/caddy/Caddyfile is not Caddy's own (written or changed by hand): it serves something of the \\
operator's, and stackyard replaces it whole: set {field}: [Caddyfile] to replace it (a copy is kept), once what \\
it serves that the stack does not is served elsewhere"
  else
    # Only site blocks are read (an address line ending in {{): a site without braces, addresses over several
    # lines or an unindented directive would be missed, and go offline unseen.
    if grep -Evq '^([[:space:]]|#|$|[{{}}(]|.*[{{][[:space:]]*$)' /etc/caddy/Caddyfile; then
      conflict "/etc/caddy/Caddyfile, replaced ({field}), has lines that are not site blocks stackyard can read (a \\
site without braces, addresses over several lines, an unindented directive): what it serves cannot be checked; \\
write it as indented site blocks (caddy fmt), or serve what it holds elsewhere, first"
    fi
    if grep -Eq '^[[:space:]]*import[[:space:]]' /etc/caddy/Caddyfile; then
      conflict "/etc/caddy/Caddyfile, replaced ({field}), imports other files: what they serve would go offline \\
with it; serve that elsewhere and take the import out first"
    fi
    while read -r address; do
      [ -n "$address" ] || continue
      host=${{address#*://}}
      host=${{host%%/*}}
      host=${{host%:*}}
      if [ -z "$host" ] || [[ $host == *[*]* ]]; then
        conflict "/etc/caddy/Caddyfile, replaced ({field}), serves every name at $address: it would go offline \\
with it; serve it elsewhere first"
      elif [[ " ${{hostnames[*]:-}} " != *" $host "* ]]; then
        conflict "/etc/caddy/Caddyfile, replaced ({field}), also serves $host, which the stack does not serve: it \\
would go offline with it; serve it elsewhere first"
      fi
    done < <(grep -E '^[^[:space:]#({{][^{{]*[{{][[:space:]]*$' /etc/caddy/Caddyfile | sed -E 's/[{{][[:space:]]*$//' \\
               | tr -s ', \\t' '\\n' | sort -u)
  fi
fi""")
    if plan.tls == "letsencrypt" and plan.proxy_replaces:
        # The site taken over serves port 80 for these names, so certbot's challenge could not be answered.
        lines.append(f"""for hostname in "${{hostnames[@]}}"; do
  if [ ! -f {plan.paths.certs}/"$hostname"/fullchain.pem ]; then
    conflict "no certificate for $hostname at {plan.paths.certs}/$hostname while a site taken over serves port 80: \\
get it first with the running site (certbot certonly --webroot or --nginx -d $hostname)"
  fi
done""")
    return lines


def _firewall(plan: PreflightPlan) -> list[str]:
    """ufw, which the base step turns on with deny incoming, would close every port it does not open: what
    listens beyond loopback on a server whose ufw is off (Ubuntu's default), or on with incoming allowed by
    default, and that the stack neither opens nor takes over would be cut off silently. Taken over: the
    ports of the apps its services replace (stopped once they serve), and a service's own ports where
    something listens on one address (the proxy, on loopback or Docker's gateway: on every address it is
    another server). Once ufw denies incoming, its rules are the operator's and stackyard's, and stay.
    (TCP: openPorts opens TCP ports; the docs say what becomes of UDP.)"""
    if not plan.ufw:
        return []
    anywhere = {plan.ssh_port, *plan.open_ports, *(s.replaced_port for s in plan.services if s.replaced_port)}
    one_address = {p for s in plan.services for p in (s.port, *s.slot_ports("blue"), *s.slot_ports("green"))
                   if p is not None} - anywhere
    return [f"""# ufw denying incoming by default already ("Default: deny (incoming), ..."): nothing changes.
if ! {{ command -v ufw >/dev/null && LC_ALL=C ufw status verbose 2>/dev/null | grep -qx 'Status: active' \\
      && LC_ALL=C ufw status verbose 2>/dev/null | grep -Eq '^Default: (deny|reject) \\(incoming\\)'; }}; then
  open=" {' '.join(str(p) for p in sorted(anywhere))} "
  local_only=" {' '.join(str(p) for p in sorted(one_address))} "
  where={quote(plan.path)}
  while read -r address port proc; do
    [[ $open == *" $port "* ]] && continue
    if [[ $local_only == *" $port "* ]] && [ "$address" != 0.0.0.0 ] && [ "$address" != '*' ] \\
        && [ "$address" != '[::]' ]; then continue; fi
    conflict "port $port listens on $address ($proc), and ufw, which stackyard turns on with deny incoming, would \\
close it: list it in $where.openPorts (open to all: not for a database), stop it listening beyond loopback, \\
or set $where.ufw: false"
  done < <(printf '%s\\n' "$listeners" | awk '{{
    n = split($4, a, ":"); port = a[n]; address = substr($4, 1, length($4) - length(port) - 1)
    if (address ~ /^127\\./ || address == "[::1]" || address ~ /^\\[::ffff:127\\./ || address ~ /%lo$/) next
    proc = "unknown"; if (match($0, /users:\\(\\("[^"]*"/)) proc = substr($0, RSTART + 9, RLENGTH - 10)
    if (!seen[port]++) print address, port, proc
  }}')
fi"""]


def _other_firewalls(plan: PreflightPlan) -> list[str]:
    """ufw, which the base step installs and turns on, stands in the place of the operator's firewall: its
    package breaks netfilter-persistent and iptables-persistent (installing it removes them, and the rules
    they load at boot are gone at the next one, NAT and what kept Docker's published ports private among
    them), and it fights firewalld. And ufw drops forwarded traffic by default: a server that routes (a VPN,
    a NAT gateway: forwarding on, FORWARD accepting) would stop forwarding, at once and at every boot."""
    if not plan.ufw:
        return []
    where = quote(f"{plan.path}.ufw")
    return [f"""ufw_where={where}
found=$(servers_installed netfilter-persistent iptables-persistent firewalld)
if [ -n "$found" ]; then
  conflict "$found is installed: the firewall it keeps is the operator's, and ufw, which stackyard installs and \\
turns on, would replace it (its package removes netfilter-persistent); set $ufw_where: false"
fi
if [ "$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null)" = 1 ] \\
    && ! {{ command -v ufw >/dev/null && LC_ALL=C ufw status 2>/dev/null | grep -x 'Status: active' >/dev/null; }} \\
    && iptables -S FORWARD 2>/dev/null | grep -x -- '-P FORWARD ACCEPT' >/dev/null; then
  conflict "this server forwards traffic (net.ipv4.ip_forward is 1, and FORWARD accepts: a router, VPN or NAT \\
gateway), and ufw, which stackyard turns on, drops what it forwards; set $ufw_where: false"
fi"""]


def _owner(plan: PreflightPlan) -> list[str]:
    """A server another stack provisions (a staging stack made with a copy of production's config): each
    stack's up would rewrite the other's proxy site, database passwords and backups, and one's destroy
    would stop the other's services, its claims having the same names."""
    if not plan.owner:
        return []
    marker = quote(plan.paths.owner)
    return [f"""if [ -f {marker} ]; then
  owner=$(head -c 256 -- {marker})
  if [ "$owner" != {quote(plan.owner)} ]; then
    conflict "this server is provisioned by the stack $owner ({plan.paths.owner}), and this is \\
{plan.owner}: each would undo the other's settings, and a destroy of one would stop the other's services; \\
point one stack at a server (if this stack was renamed, write its new name into that file)"
  fi
fi"""]


def _metadata(plan: PreflightPlan) -> list[str]:
    """The metadata guard refuses 169.254.169.254 to every user but root, and to containers: an agent of
    the operator's that asks it as another user (DigitalOcean's do-agent takes its token and sends its
    metrics there) would stop, and its graphs and alerts with it, with no message anywhere. A known agent
    is found by its account or unit; any other by a connection to the service open now (a container's are
    in its own network namespace, out of sight: the docs say so)."""
    if not plan.metadata_guard:
        return []
    where = quote(f"{plan.path}.metadataGuard")
    return [f"""where={where}
if getent passwd do-agent >/dev/null || [ -e /etc/systemd/system/do-agent.service ] \\
    || [ -e /lib/systemd/system/do-agent.service ] || [ -e /usr/lib/systemd/system/do-agent.service ]; then
  conflict "DigitalOcean's monitoring agent (do-agent) asks the cloud's metadata service (169.254.169.254), which \\
stackyard refuses to every user but root: set $where: false to leave it open, or remove do-agent"
fi
while read -r user proc; do
  conflict "$proc (user $user) asks the cloud's metadata service (169.254.169.254), which stackyard refuses to \\
every user but root: set $where: false to leave it open, or stop it asking"
done < <(ss -Htnpe dst 169.254.169.254 2>/dev/null | awk '{{
  if (!match($0, /uid:[0-9]+/)) next
  uid = substr($0, RSTART + 4, RLENGTH - 4); if (uid == 0) next
  proc = "unknown"; if (match($0, /users:\\(\\("[^"]*"/)) proc = substr($0, RSTART + 9, RLENGTH - 10)
  if (!seen[uid " " proc]++) print uid, proc
}}' | while read -r uid proc; do echo "$(id -nu "$uid" 2>/dev/null || echo "$uid") $proc"; done)"""]


def preflight_script(plan: PreflightPlan) -> str:
    """The pre-flight as a bash script run as root. It changes nothing; it exits 1 with every conflict
    listed on stderr, or 0 with what it found on stdout."""
    body = "\n".join([*_accessories(plan), *_ports(plan), *_processes(plan), *_compose_projects(plan),
                      *_directories(plan), *_sites(plan), *_other_firewalls(plan),
                      *_firewall(plan), *_metadata(plan), *_owner(plan)])
    return f"""#!/usr/bin/env bash
# stackyard pre-flight of host {plan.host}: changes nothing.
set -uo pipefail
conflicts=()
conflict() {{ conflicts+=("$*"); }}

# "package version" of each installed package of those named (globs allowed).
servers_installed() {{
  dpkg-query -W -f '${{db:Status-Abbrev}} ${{Package}} ${{Version}}\\n' "$@" 2>/dev/null \\
    | awk '$1 == "ii" {{ printf "%s%s %s", sep, $2, $3; sep = ", " }}'
}}

listeners=$(ss -Hltnp 2>/dev/null || true)
# check_port PORT NAMES USER WHAT: a conflict unless nothing listens on PORT, or a process named in NAMES
# or running as USER does (stackyard's own).
check_port() {{
  local port=$1 names=$2 user=$3 what=$4 line proc pid owner
  line=$(printf '%s\\n' "$listeners" \\
    | awk -v port="$port" '{{ n = split($4, a, ":"); if (a[n] == port) {{ print; exit }} }}')
  [ -n "$line" ] || return 0
  proc=$(printf '%s' "$line" | sed -n 's/.*users:(("\\([^"]*\\)",pid=\\([0-9]*\\),.*/\\1/p')
  pid=$(printf '%s' "$line" | sed -n 's/.*users:(("\\([^"]*\\)",pid=\\([0-9]*\\),.*/\\2/p')
  owner=$(stat -c %U "/proc/$pid" 2>/dev/null || echo unknown)
  if [ -n "$names" ] && [[ " $names " == *" $proc "* ]] && packaged "$proc" "$pid"; then return 0; fi
  if [ -n "$user" ] && [ "$owner" = "$user" ]; then return 0; fi
  conflict "port $port ($what) is held by $proc (pid $pid, user $owner)"
}}
# packaged NAME PID: PID runs the distribution's NAME, what stackyard installs and manages (the very file,
# whatever mount namespace its unit gives it). An nginx built from source, OpenResty or a container on the
# host's network is called nginx too: the package installed beside it would take its ports at the next boot.
packaged() {{
  local binary exe
  case $1 in
    nginx) binary=/usr/sbin/nginx ;;
    caddy) binary=/usr/bin/caddy ;;
    mariadbd | mysqld) binary=/usr/sbin/$1 ;;
    redis-server) binary=/usr/bin/redis-server ;;
    postgres)
      for binary in /usr/lib/postgresql/*/bin/postgres; do [ "/proc/$2/exe" -ef "$binary" ] && return 0; done
      return 1 ;;
    *) return 0 ;;
  esac
  [ "/proc/$2/exe" -ef "$binary" ] && return 0
  # Upgraded on disk and not restarted yet: the file it runs is gone, under the package's name.
  exe=$(readlink "/proc/$2/exe" 2>/dev/null) && [ "$exe" = "$binary (deleted)" ]
}}

# The processes of every PM2 daemon running outside stackyard (root's and each user's ~/.pm2). A daemon
# that is not running is not asked: any pm2 command would start one.
pm2_processes=()
declare -A pm2_home_by_name=()
for home in /root/.pm2 /home/*/.pm2; do
  # timeout and head: a user's home is theirs, and a FIFO there would hold every up of this host (an endless
  # file, fill its memory)
  pid=$(timeout 5 head -c 32 -- "$home/pm2.pid" 2>/dev/null || true)
  if [[ ! $pid =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null || ! command -v pm2 >/dev/null; then continue; fi
  owner=$(stat -c %U "$home")
  # Root's PM2 with its home in a directory another user can write (sudo pm2 keeping HOME): that user could
  # swap the directory for one of theirs while root's pm2 reads it, and root would start a daemon there and
  # run its modules. Not asked, as retire.sh would not touch it.
  if [ "$owner" = root ] && [ -z "$(find "${{home%/*}}" -maxdepth 0 -user root ! -perm /022 2>/dev/null)" ]; then
    echo "pre-flight: $home is root's PM2 in a directory another user can change: not asked"
    continue
  fi
  while read -r name; do
    [ -n "$name" ] || continue
    pm2_processes+=("$name")
    pm2_home_by_name[$name]=$home
  done < <(runuser -u "$owner" -- env HOME="$(getent passwd "$owner" | cut -d: -f6)" PM2_HOME="$home" pm2 jlist \\
             2>/dev/null | grep '^\\[' | node -e 'let s = ""; process.stdin.on("data", d => s += d).on("end", () => {{
               for (const p of JSON.parse(s || "[]")) console.log(p.name); }})' 2>/dev/null)
done
pm2_home_of() {{ echo "PM2_HOME ${{pm2_home_by_name[$1]:-?}}"; }}

{body}

if [ ${{#conflicts[@]}} -gt 0 ]; then
  {{
    echo "stackyard pre-flight: host {plan.host} ({plan.path}) has ${{#conflicts[@]}} conflict(s) with the stack;"
    echo "nothing on it was changed."
    printf '  - %s\\n' "${{conflicts[@]}}"
    echo "Take each over in the stack file (README: Taking over a running server) or remove it from the host,"
    echo "then run pulumi up again."
  }} >&2
  exit 1
fi
echo "pre-flight of {plan.host}: no conflicts"
"""
