# Slots as PM2 processes (<name>-<color>-<i>), each slot's under a PM2 daemon of its own, the instance
# <unit>-pm2@<color> of the service's template unit, which runs as its user, never under this SSH session:
# supervised, and back at boot from `pm2 save`. Its processes listen as the service's user (owns_port).
PORT_OWNER=$SERVICE_USER
# A port of an instance that nothing holds is nobody's (owns_port).
unheld_is_ours() { return 1; }
daemon_of() { echo "$UNIT-pm2@$1.service"; }
# pm2_in HOME ARGS...: PM2 as the service user, from its own home: run from the SSH session's directory
# (/root, 0700) it cannot even start node.
pm2_in() { local home=$1; shift; (cd "$STATE" && as_user "$SERVICE_USER" env HOME="$STATE" PM2_HOME="$home" pm2 "$@"); }
# pm2_run COLOR ARGS...: PM2 of that slot's daemon.
pm2_run() { local color=$1; shift; pm2_in "$PM2_HOME/$color" "$@"; }
# (Called in `if`, where bash ignores set -e: every step says so when it fails.)
# The slot's daemon starts afresh, from its unit as the setup step last wrote it (daemon-reload: systemd
# keeps the unit it read before), before its processes do: a changed unit (logs.files in ReadWritePaths)
# reaches the new slot's processes, and the serving slot, under its own daemon, runs on untouched. A pm2
# command run with no daemon starts one of its own, outside the unit (seen on the real host), that the
# unit's start then fails on: none runs before the unit is up.
start_slot() {
  systemctl daemon-reload || return 1
  systemctl enable --quiet "$(daemon_of "$1")" || return 1
  systemctl restart "$(daemon_of "$1")" || return 1
  pm2_run "$1" startOrReload "$(definition_of "$1")" --update-env || return 1
  pm2_run "$1" save --force >/dev/null
}
# stop_slot COLOR: its daemon stops, and with it the slot's processes; what it saved goes (as its user: the
# directory is the user's, and root removes nothing through a path a user controls), so nothing of the
# slot comes back at boot or with the daemon's next start. A slot of the one daemon of both slots that
# stackyard ran before each had its own (PM2_HOME the directory of theirs) stops there.
stop_slot() {
  systemctl disable --quiet --now "$(daemon_of "$1")" || return 1
  as_user "$SERVICE_USER" rm -f "$ROOT$PM2_HOME/$1/dump.pm2" "$ROOT$PM2_HOME/$1/dump.pm2.bak" || return 1
  if systemctl is-active --quiet "$UNIT-pm2.service"; then
    # A slot PM2 does not know is stopped already; `delete` of it fails, and that is no failure.
    pm2_in "$PM2_HOME" delete "$(definition_of "$1")" >/dev/null 2>&1 || true
    pm2_in "$PM2_HOME" save --force >/dev/null || return 1
  fi
}
# Removal: the slots' daemons go, the one daemon of both slots of before too, and what they saved: nothing
# to resurrect.
forget_runtime() {
  local color
  for color in blue green; do
    systemctl disable --quiet --now "$(daemon_of "$color")" || true
    as_user "$SERVICE_USER" rm -f "$ROOT$PM2_HOME/$color/dump.pm2" "$ROOT$PM2_HOME/$color/dump.pm2.bak" || true
  done
  systemctl disable --quiet --now "$UNIT-pm2.service" 2>/dev/null || true
  as_user "$SERVICE_USER" rm -f "$ROOT$PM2_HOME/dump.pm2" "$ROOT$PM2_HOME/dump.pm2.bak" || true
}
# The watchdog's pieces (see runtime-systemd.sh). Until a deploy has moved the slot to a daemon of its own,
# it runs under the one daemon of both slots of before: that daemon restarts it (asked of the slot's own,
# not running, pm2 would start a daemon outside any unit, and restart nothing).
under_shared_daemon() {
  ! systemctl is-active --quiet "$(daemon_of "$1")" && systemctl is-active --quiet "$UNIT-pm2.service"
}
restart_instance() {
  if under_shared_daemon "$1"; then pm2_in "$PM2_HOME" restart "$APP-$1-$2" >/dev/null; return; fi
  pm2_run "$1" restart "$APP-$1-$2" >/dev/null
}
thaw() { thaw_port_holder "$3"; }
report_unit() { if under_shared_daemon "$1"; then echo "$UNIT-pm2.service"; else daemon_of "$1"; fi; }
