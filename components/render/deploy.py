"""The deploy script of one service: build the new release beside the running one, start it in the
idle slot, health-check it, switch the proxy, stop the old slot. The old release keeps serving
until the new one is healthy, and keeps serving if it never is.
"""

from __future__ import annotations

from shlex import quote

from .layout import COLORS, ServicePlan
from .logs import logrotate_path
from .proxy import upstream_name
from .units import definition_path

HEADER = "#!/usr/bin/env bash\nset -euo pipefail\n"


def _array(values: list[int] | list[str]) -> str:
    return "(" + " ".join(quote(str(v)) for v in values) + ")"


def _prepare(plan: ServicePlan) -> str:
    """Runtime steps in a fresh release directory, as the service user."""
    steps = []
    if plan.language == "python":
        steps.append("uv venv --quiet .venv")
        steps.append("if [ -f requirements.txt ]; then uv pip install --quiet --python .venv/bin/python "
                     "-r requirements.txt; fi")
    elif plan.language == "node":
        steps.append("if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit "
                     "--no-fund; fi")
    steps += list(plan.install)
    if not steps:
        return "  :"
    return "\n".join(f"  in_release \"$tmp\" {quote(step)}" for step in steps)


def _runtime(plan: ServicePlan, proxy: str | None) -> str:
    etc = f"{plan.paths.etc}/{plan.name}"
    if plan.runtime == "systemd":
        return f"""
units_of() {{
  local color=$1 instance
  if [ "$(ports_of "$color" | wc -w)" -eq 0 ]; then echo "{plan.unit}-$color.service"; return; fi
  for instance in $(ports_of "$color"); do echo "{plan.unit}-$color@$instance.service"; done
}}
start_slot() {{
  local color=$1
  systemctl daemon-reload
  # shellcheck disable=SC2046
  systemctl restart $(units_of "$color")
  # shellcheck disable=SC2046
  systemctl enable --quiet $(units_of "$color")
}}
stop_slot() {{
  local color=$1
  # shellcheck disable=SC2046
  systemctl disable --quiet --now $(units_of "$color") || true
}}
"""
    if plan.runtime == "pm2":
        return f"""
{pm2_run_function(plan, state='"$STATE"', user='"$SERVICE_USER"')}
start_slot() {{
  # The daemon runs under its systemd unit, never under this SSH session: supervised, and back at boot.
  systemctl enable --quiet {plan.unit}-pm2.service
  systemctl start {plan.unit}-pm2.service
  pm2_run startOrReload "$ROOT{etc}/ecosystem.$1.config.js" --update-env
  pm2_run save --force >/dev/null
}}
stop_slot() {{
  pm2_run delete "$ROOT{etc}/ecosystem.$1.config.js" >/dev/null 2>&1 || true
  pm2_run save --force >/dev/null
}}
"""
    wait = plan.health_interval * plan.health_retries + plan.health_timeout + 60
    return f"""
{compose_function(plan, base="$BASE", etc=f"$ROOT{etc}")}
# --wait: until every container is running and Docker's own health check passes.
start_slot() {{ compose "$1" up --detach --build --remove-orphans --wait --wait-timeout {wait}; }}
stop_slot() {{ compose "$1" down --timeout 30 || true; }}
"""


def pm2_run_function(plan: ServicePlan, *, state: str, user: str) -> str:
    """``pm2_run ARGS``: the service's own PM2 (``state``, ``user``: shell words for its home and user)."""
    return f"""# PM2 as the service user, from its own home: run from the SSH session's directory (/root, 0700)
# it cannot even start node.
pm2_run() {{
  (cd {state} && runuser -u {user} -- env HOME={state} PM2_HOME={quote(plan.paths.pm2_home(plan.name))} \\
    pm2 "$@")
}}"""


def compose_function(plan: ServicePlan, *, base: str, etc: str) -> str:
    """``compose COLOR ARGS``: docker compose on one slot's project (``base``, ``etc``: the service's
    directory and its settings directory, as they go between double quotes: a path or a variable)."""
    return f"""compose() {{
  local color=$1; shift
  # The service's group, which its containers get: it reads their mounted secret files.
  STACKYARD_SERVICE_GID=$(id -g {plan.user}) docker compose --project-name "{plan.name}-$color" \\
    --project-directory "{base}/slots/$color" \\
    --file "{etc}/compose.$color.yml" "$@"
}}"""


def _switch(plan: ServicePlan, proxy: str | None) -> str:
    if proxy is None or plan.port is None:
        return "switch_to() { :; }\n"
    target = f"$ROOT{plan.paths.upstream(plan.name, proxy)}"
    if proxy == "nginx":
        body = (
            f'  {{ echo "upstream {upstream_name(plan)} {{"; for port in $(ports_of "$1"); do\n'
            '      echo "    server 127.0.0.1:$port max_fails=0;"; done; echo "}"; } > "$new"\n'
        )
        reload = "nginx -t -q && systemctl reload nginx"
    else:
        body = ('  { printf "reverse_proxy"; for port in $(ports_of "$1"); do\n'
                '      printf " 127.0.0.1:%s" "$port"; done; echo; } > "$new"\n')
        reload = "systemctl reload caddy"
    return (
        "switch_to() {\n"
        f'  local target="{target}" new\n'
        '  new="$target.new"\n'
        + body +
        '  cp -p "$target" "$target.previous" 2>/dev/null || true\n'
        '  mv "$new" "$target"\n'
        f'  if ! {{ {reload}; }}; then\n'
        '    log "the proxy refused the new upstream; restoring the previous one"\n'
        '    mv "$target.previous" "$target"; return 1\n'
        "  fi\n"
        "}\n"
    )


def _retire(plan: ServicePlan) -> str:
    """retire_legacy: stops what served the service before stackyard (``replaces``). Idempotent: a PM2
    daemon that is not running is not started (any pm2 command would start one), a process or unit
    already gone is skipped."""
    if not plan.legacy_pm2 and not plan.legacy_units:
        return "retire_legacy() { :; }\n"
    out = []
    if plan.legacy_pm2:
        names = " ".join(quote(n) for n in plan.legacy_pm2)
        out.append(f"""LEGACY_PM2_HOME={quote(plan.legacy_pm2_home)}
LEGACY_PM2=({names})
# The old PM2, as the owner of its home (root's for /root/.pm2).
legacy_pm2() {{
  local owner
  owner=$(stat -c %U "$ROOT$LEGACY_PM2_HOME")
  runuser -u "$owner" -- env HOME="$(getent passwd "$owner" | cut -d: -f6)" PM2_HOME="$LEGACY_PM2_HOME" pm2 "$@"
}}""")
    out.append("retire_legacy() {")
    if plan.legacy_pm2:
        out.append("""  local pid name gone=no
  pid=$(cat "$ROOT$LEGACY_PM2_HOME/pm2.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    for name in "${LEGACY_PM2[@]}"; do
      if legacy_pm2 describe "$name" >/dev/null 2>&1; then
        legacy_pm2 delete "$name" >/dev/null
        log "stopped the old PM2 process $name ($LEGACY_PM2_HOME)"
        gone=yes
      fi
    done
    # Saved, so that the old daemon does not resurrect them at boot.
    if [ "$gone" = yes ]; then legacy_pm2 save --force >/dev/null; fi
  fi""")
    for unit in plan.legacy_units:
        name = quote(unit)
        out.append(f"""  if systemctl is-enabled --quiet {name} 2>/dev/null || systemctl is-active --quiet {name}; then
    systemctl disable --quiet --now {name}
    log "stopped and disabled the old unit {unit}"
  fi""")
    out.append("}")
    return "\n".join(out) + "\n"


def settings_files(plan: ServicePlan) -> list[str]:
    """The files a running slot was started with, besides its commit: a change in any restarts it."""
    return [plan.paths.env_file(plan.name), *(definition_path(plan, color) for color in COLORS),
            *(plan.paths.secret_file(plan.name, path) for path in plan.files)]


def deploy_script(plan: ServicePlan, proxy: str | None) -> str:
    """The script `pulumi up` runs (as root) to deploy ``plan.ref``; also the rollback command.

    ``STACKYARD_ROOT`` prefixes every path, so tests can run it in a scratch directory.
    """
    files_line = "" if plan.runtime == "compose" else f'FILES="$ROOT{plan.paths.etc}/{plan.name}/files"\n'
    return HEADER + f"""# Deploys {plan.name}. Usage: deploy [--restart] [REF]
#   REF: any branch, tag or commit (default {plan.ref}); deploying an older one is a rollback.
#   The release is started again in the other slot when the commit or its settings (env file,
#   process definitions, secret files) changed since it started; otherwise nothing happens.
#   --restart: start it again in the other slot even if nothing changed.
RESTART=no
if [ "${{1:-}}" = --restart ]; then RESTART=yes; shift; fi
APP={quote(plan.name)}
ROOT=${{STACKYARD_ROOT:-}}
BASE="$ROOT{plan.paths.app(plan.name)}"
{files_line}REPO={quote(plan.repo)}
REF=${{1:-{quote(plan.ref)}}}
SERVICE_USER={quote(plan.user)}
STATE="$ROOT{plan.paths.state(plan.name)}"
SETTINGS=({" ".join(f'"$ROOT{path}"' for path in settings_files(plan))})
KEEP={plan.keep_releases}
HEALTH_PATH={quote(plan.health_path or "")}
HEALTH_RETRIES={plan.health_retries}
HEALTH_INTERVAL={plan.health_interval}
HEALTH_TIMEOUT={plan.health_timeout}
BLUE_PORTS={_array(plan.slot_ports("blue"))}
GREEN_PORTS={_array(plan.slot_ports("green"))}

log() {{ printf '[deploy %s] %s\\n' "$APP" "$*"; }}
ports_of() {{ if [ "$1" = blue ]; then echo "${{BLUE_PORTS[*]}}"; else echo "${{GREEN_PORTS[*]}}"; fi; }}
# Builds run as the service user with HOME in its state directory (uv and npm caches), never in
# shared/, which holds the app's data and is what backups archive.
in_release() {{ (cd "$1" && runuser -u "$SERVICE_USER" -- env HOME="$STATE" bash -c "$2"); }}
# What the running slot was started with besides its commit: a change means a restart.
settings_id() {{ {{ cat "${{SETTINGS[@]}}" 2>/dev/null || true; }} | sha256sum | cut -c1-16; }}

check_health() {{
  local port=$1 try=1 answer code
  while :; do
    answer=$(curl -sS --max-time "$HEALTH_TIMEOUT" -w '\\n%{{http_code}}' \\
      "http://127.0.0.1:$port$HEALTH_PATH" 2>&1) || true
    code=${{answer##*$'\\n'}}
    if [[ $code == 2* ]]; then
      log "port $port healthy after $try tries"
      return 0
    fi
    if (( try >= HEALTH_RETRIES )); then
      log "port $port failed its health check $try times; last answer (HTTP $code):"
      printf '%s\\n' "${{answer%$'\\n'*}}" >&2
      return 1
    fi
    try=$((try + 1))
    sleep "$HEALTH_INTERVAL"
  done
}}
{_runtime(plan, proxy)}
{_switch(plan, proxy)}
{_retire(plan)}
mkdir -p "$BASE/releases" "$BASE/slots"
exec 9>"$BASE/.deploy.lock"
if ! flock --nonblock 9; then
  log "another deploy of $APP is running on this host; try again when it ends"
  exit 75
fi

if [[ $REF =~ ^[0-9a-f]{{40}}$ ]]; then
  sha=$REF
else
  refs=$(git ls-remote "$REPO" "refs/heads/$REF" "refs/tags/$REF" "refs/tags/$REF^{{}}")
  sha=$(printf '%s\\n' "$refs" | awk '/\\^\\{{\\}}$/ {{print $1; exit}}')
  [ -n "$sha" ] || sha=$(printf '%s\\n' "$refs" | awk 'NF {{print $1; exit}}')
fi
if [ -z "$sha" ]; then
  log "no branch or tag $REF in $REPO"
  exit 1
fi

active=none active_sha=none active_settings=none
if [ -f "$BASE/active" ]; then read -r active active_sha active_settings < "$BASE/active"; fi
settings=$(settings_id)
if [ "$active_sha" = "$sha" ] && [ "$active_settings" = "$settings" ] && [ "$RESTART" = no ]; then
  log "already serving $sha from the $active slot with these settings"
  exit 0
fi

# A release is built where it will run (tools such as uv write absolute paths into it), and counts
# as built only once its marker is written: a build that failed halfway is built again.
release="$BASE/releases/$sha"
if [ ! -f "$release/.stackyard-release" ]; then
  log "building release $sha"
  tmp=$release
  rm -rf "$tmp"
  git clone --quiet "$REPO" "$tmp"
  git -C "$tmp" -c advice.detachedHead=false checkout --quiet "$sha"
{'' if plan.runtime == "compose" else '  if [ -d "$FILES" ]; then cp -a "$FILES/." "$tmp/"; fi'}
  chown -R "$SERVICE_USER:" "$tmp"
{_prepare(plan)}
  touch "$release/.stackyard-release"
fi

next=blue
if [ "$active" = blue ]; then next=green; fi
ln -sfn "$release" "$BASE/slots/$next"
{'' if plan.port is not None else 'retire_legacy  # a worker: two must never run at once'}
log "starting $sha in the $next slot"
if ! start_slot "$next"; then
  stop_slot "$next"
  log "deploy of $sha failed: its $next slot did not start; the $active slot keeps serving ${{active_sha}}"
  exit 1
fi

if [ -n "$HEALTH_PATH" ]; then
  for port in $(ports_of "$next"); do
    if ! check_health "$port"; then
      stop_slot "$next"
      log "deploy of $sha failed; the $active slot keeps serving ${{active_sha}}"
      exit 1
    fi
  done
fi

if ! switch_to "$next"; then
  stop_slot "$next"
  exit 1
fi
if [ "$active" != none ]; then
  stop_slot "$active"
fi
{'retire_legacy  # the new release serves: what served before stackyard can go' if plan.port is not None else ''}
printf '%s %s %s\\n' "$next" "$sha" "$settings" > "$BASE/active.new"
mv "$BASE/active.new" "$BASE/active"
if [ "$active_sha" != none ]; then printf '%s\\n' "$active_sha" > "$BASE/previous"; fi
ln -sfn "$release" "$BASE/current"

# Keep the newest $KEEP releases, and always the one serving and the one before it.
keep_sha=$(cat "$BASE/previous" 2>/dev/null || true)
find "$BASE/releases" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %f\\n' | sort -rn | awk '{{print $2}}' \\
  | tail -n +$((KEEP + 1)) | while read -r old; do
    if [ "$old" != "$sha" ] && [ "$old" != "$keep_sha" ]; then rm -rf "${{BASE:?}}/releases/$old"; fi
  done
log "serving $sha from the $next slot"
"""


def removal_script(plan: ServicePlan, proxy: str | None) -> str:
    """What `pulumi up` runs (as root) when a service leaves the stack: stop both slots, forget its PM2
    processes and unit, and drop its upstream file. By then the proxy no longer routes to it: the
    proxy step, which runs before any removal, rendered the site without it. Releases and shared/
    stay on the host: nothing of the service's data is lost."""
    upstream = f'rm -f "$ROOT{plan.paths.upstream(plan.name, proxy)}"' if proxy and plan.port is not None else ":"
    pm2_unit_off = pm2_vars = ""
    if plan.runtime == "pm2":
        pm2_vars = f'SERVICE_USER={quote(plan.user)}\nSTATE="$ROOT{plan.paths.state(plan.name)}"\n'
        pm2_unit_off = (f"systemctl disable --quiet --now {plan.unit}-pm2.service || true\n"
                        "pm2_run kill >/dev/null 2>&1 || true\n")
    return HEADER + f"""# Removes {plan.name} from this host: stops it, keeps its data.
APP={quote(plan.name)}
ROOT=${{STACKYARD_ROOT:-}}
BASE="$ROOT{plan.paths.app(plan.name)}"
{pm2_vars}BLUE_PORTS={_array(plan.slot_ports("blue"))}
GREEN_PORTS={_array(plan.slot_ports("green"))}
log() {{ printf '[remove %s] %s\\n' "$APP" "$*"; }}
ports_of() {{ if [ "$1" = blue ]; then echo "${{BLUE_PORTS[*]}}"; else echo "${{GREEN_PORTS[*]}}"; fi; }}
{_runtime(plan, proxy)}
systemctl disable --quiet --now {plan.watchdog_unit}.timer 2>/dev/null || true
rm -f "$ROOT{logrotate_path(plan)}"  # the logs themselves stay
for color in blue green; do stop_slot "$color"; done
{pm2_unit_off}{upstream}
rm -f "$BASE/active"
log "stopped; releases and shared data are kept in $BASE"
"""

