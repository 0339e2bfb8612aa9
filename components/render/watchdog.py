"""The health watchdog of one service: a systemd timer that checks every instance of the serving slot.

`Restart=always` (systemd) and PM2's autorestart bring back a process that exited; neither notices
one that hangs, answering nothing (seed 004's "auto-recovery": checks with retries, a restart,
verification after it, diagnostics when it did not help). Each run of the watchdog checks every
instance on every path. One that failed ``failures`` runs in a row is restarted alone (the others
keep serving) and checked again. If it is still failing, a diagnostic report goes to the journal.
After ``restarts`` restarts in a row that did not help, it stops restarting, says so once, and only
counts, until the instance answers again: a broken database is not fixed by restarting the app in
a loop.
"""

from __future__ import annotations

from shlex import quote

from .deploy import compose_function, pm2_run_function
from .layout import ServicePlan


def watchdog_units(plan: ServicePlan) -> dict[str, str]:
    """file name under /etc/systemd/system -> content: the oneshot service and its timer."""
    name = plan.watchdog_unit
    service = "\n".join([
        "[Unit]",
        f"Description=health watchdog of {plan.name}, managed by stackyard",
        "",
        "[Service]",
        "Type=oneshot",
        f"ExecStart={plan.paths.app(plan.name)}/watchdog",
        "",
    ])
    timer = "\n".join([
        "[Unit]",
        f"Description=health watchdog of {plan.name} every {plan.watchdog_interval} s, managed by stackyard",
        "",
        "[Timer]",
        f"OnActiveSec={plan.watchdog_interval}",
        f"OnUnitActiveSec={plan.watchdog_interval}",
        # The default accuracy is a minute: far coarser than the interval.
        "AccuracySec=1s",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ])
    return {f"{name}.service": service, f"{name}.timer": timer}


def _restart(plan: ServicePlan) -> str:
    """restart_instance COLOR INDEX PORT: restarts one instance of a slot, whatever runs it."""
    if plan.runtime == "systemd":
        return f'restart_instance() {{ systemctl restart "{plan.unit}-$1@$3.service"; }}\n'
    if plan.runtime == "pm2":
        state = quote(plan.paths.state(plan.name))
        return (pm2_run_function(plan, state=state, user=plan.user)
                + f'\nrestart_instance() {{ pm2_run restart "{plan.name}-$1-$2" >/dev/null; }}\n')
    return (compose_function(plan, base=plan.paths.app(plan.name), etc=f"{plan.paths.etc}/{plan.name}")
            # A hung process (not only a stopped one, which thaw wakes) ignores the SIGTERM of a stop:
            # kill it after 10 s, not after the 30 s grace period of a deploy's stop.
            + f'\nrestart_instance() {{ compose "$1" restart --timeout 10 "{plan.name}-$2"; }}\n')


def _thaw(plan: ServicePlan) -> str:
    """thaw COLOR INDEX PORT: a frozen (SIGSTOPped) process cannot take the stop signal of a restart, so
    the instance's processes get SIGCONT first. Under systemd and PM2 that is whatever holds the port;
    a container's port is held by docker-proxy, so there it is every process in the container."""
    if plan.runtime == "compose":
        return f"""thaw() {{
  local container pid
  container=$(compose "$1" ps --quiet "{plan.name}-$2") || return 0
  for pid in $(docker top "$container" -o pid 2>/dev/null | tail -n +2); do
    kill -CONT "$pid" 2>/dev/null || true
  done
}}
"""
    return """# A frozen (SIGSTOPped) process cannot take the stop signal of a restart: thaw whatever holds the port.
thaw() {
  local pid
  for pid in $(ss -Hltnp "sport = :$3" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    kill -CONT "$pid" 2>/dev/null || true
  done
}
"""


def _report_unit(plan: ServicePlan) -> str:
    if plan.runtime == "systemd":
        return f'"{plan.unit}-$1@$3.service"'
    if plan.runtime == "pm2":
        return f'"{plan.unit}-pm2.service"'
    return "docker.service"


def watchdog_script(plan: ServicePlan) -> str:
    """The script the watchdog's service runs (as root). State: one counter file per instance port."""
    paths = " ".join(quote(p) for p in plan.watchdog_paths)
    ports = {color: " ".join(str(p) for p in plan.slot_ports(color)) for color in ("blue", "green")}
    return f"""#!/usr/bin/env bash
# Health watchdog of {plan.name}, run by {plan.watchdog_unit}.timer every {plan.watchdog_interval} s.
set -uo pipefail
BASE={quote(plan.paths.app(plan.name))}
STATE={quote(f"{plan.paths.var}/watchdog/{plan.name}")}
PATHS=({paths})
FAILURES={plan.watchdog_failures}
RESTARTS={plan.watchdog_restarts}
VERIFY_TRIES={plan.health_retries}
VERIFY_INTERVAL={plan.health_interval}
TIMEOUT={plan.health_timeout}
BLUE_PORTS=({ports["blue"]})
GREEN_PORTS=({ports["green"]})

log() {{ printf '%s\\n' "$*"; }}

# Every path answers 2xx on this port.
healthy() {{
  local port=$1 path code
  for path in "${{PATHS[@]}}"; do
    code=$(curl -s -o /dev/null --max-time "$TIMEOUT" -w '%{{http_code}}' "http://127.0.0.1:$port$path") || true
    if [[ $code != 2* ]]; then
      last_answer="$path: HTTP ${{code:-none}}"
      return 1
    fi
  done
}}

{_restart(plan)}
report() {{
  local color=$1 index=$2 port=$3
  log "=== stackyard watchdog: diagnostic report for {plan.name} instance $port ($color slot) ==="
  log "--- last answer: $last_answer"
  log "--- unit"; systemctl status --no-pager --lines=0 {_report_unit(plan)} 2>&1 | head -n 12
  log "--- recent logs"; journalctl --no-pager --quiet -n 30 -u {_report_unit(plan)} 2>&1 | tail -n 30
  log "--- listening ports"; ss -Hltnp 2>&1 | head -n 40
  log "--- memory"; free -m 2>&1
  log "--- disk"; df -h / {quote(plan.paths.app(plan.name))} 2>&1
  log "--- load"; uptime 2>&1
  log "=== end of report ==="
}}

{_thaw(plan)}
if [ ! -f "$BASE/active" ]; then exit 0; fi  # nothing deployed yet
read -r color _ < "$BASE/active"
if [ "$color" = blue ]; then ports=("${{BLUE_PORTS[@]}}"); else ports=("${{GREEN_PORTS[@]}}"); fi
install -d -m 0700 "$STATE"

index=0
for port in "${{ports[@]}}"; do
  failures=0 restarts=0
  if [ -f "$STATE/$port" ]; then read -r failures restarts < "$STATE/$port"; fi
  last_answer=""
  if healthy "$port"; then
    if [ "$failures" -gt 0 ] || [ "$restarts" -gt 0 ]; then log "instance $port healthy again"; fi
    rm -f "$STATE/$port"
  else
    failures=$((failures + 1))
    log "instance $port failed its check ($failures in a row): $last_answer"
    if [ "$failures" -ge "$FAILURES" ]; then
      if [ "$restarts" -ge "$RESTARTS" ]; then
        if [ "$failures" -eq "$FAILURES" ]; then
          log "instance $port: $RESTARTS restarts did not bring it back; no more restarts until it answers again"
        fi
      else
        restarts=$((restarts + 1))
        log "restarting instance $port ($color slot; restart $restarts of at most $RESTARTS in a row)"
        thaw "$color" "$index" "$port"
        restart_instance "$color" "$index" "$port" || log "the restart of instance $port failed"
        recovered=no
        for _ in $(seq "$VERIFY_TRIES"); do
          sleep "$VERIFY_INTERVAL"
          if healthy "$port"; then recovered=yes; break; fi
        done
        if [ "$recovered" = yes ]; then
          log "instance $port answers again after the restart"
          failures=0 restarts=0
        else
          report "$color" "$index" "$port"
          failures=0
        fi
      fi
    fi
    if [ "$failures" -gt 0 ] || [ "$restarts" -gt 0 ]; then
      printf '%s %s\\n' "$failures" "$restarts" > "$STATE/$port"
    else
      rm -f "$STATE/$port"
    fi
  fi
  index=$((index + 1))
done
"""
