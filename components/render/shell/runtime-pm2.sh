# Slots as PM2 processes (<name>-<color>-<i>) of the service's own PM2 daemon, which runs as its user
# under its systemd unit, never under this SSH session: supervised, and back at boot from `pm2 save`.
# Its processes listen as the service's user (owns_port).
PORT_OWNER=$SERVICE_USER
# A port of an instance that nothing holds is nobody's (owns_port).
unheld_is_ours() { return 1; }
# PM2 as the service user, from its own home: run from the SSH session's directory (/root, 0700)
# it cannot even start node.
pm2_run() { (cd "$STATE" && as_user "$SERVICE_USER" env HOME="$STATE" PM2_HOME="$PM2_HOME" pm2 "$@"); }
# (Called in `if`, where bash ignores set -e: every step says so when it fails.)
start_slot() {
  systemctl enable --quiet "$UNIT-pm2.service" || return 1
  systemctl start "$UNIT-pm2.service" || return 1
  pm2_run startOrReload "$(definition_of "$1")" --update-env || return 1
  pm2_run save --force >/dev/null
}
# The slot's processes run only under the daemon of the unit. With the unit down none runs, but its next
# start resurrects what the last `pm2 save` kept, this slot too; and a pm2 command run with no daemon
# starts one of its own, outside the unit (seen on the real host), that the unit's start then fails on.
# So the unit is started first, where anything was ever saved; if it will not start, the slot is not
# stopped, and its record stays for the next deploy.
stop_slot() {
  if ! systemctl is-active --quiet "$UNIT-pm2.service"; then
    [ -e "$ROOT$PM2_HOME/dump.pm2" ] || return 0
    systemctl start "$UNIT-pm2.service" || return 1
  fi
  # A slot PM2 does not know is stopped already; `delete` of it fails, and that is no failure.
  pm2_run delete "$(definition_of "$1")" >/dev/null 2>&1 || true
  pm2_run save --force >/dev/null
}
# Removal: the service's PM2 daemon and its unit go too, and what it saved: nothing to resurrect.
forget_runtime() {
  systemctl disable --quiet --now "$UNIT-pm2.service" || true
  pm2_run kill >/dev/null 2>&1 || true
  # (As its user: the directory is the user's, and root removes nothing through a path a user controls.)
  as_user "$SERVICE_USER" rm -f "$ROOT$PM2_HOME/dump.pm2" "$ROOT$PM2_HOME/dump.pm2.bak" || true
}
# The watchdog's pieces (see runtime-systemd.sh).
restart_instance() { pm2_run restart "$APP-$1-$2" >/dev/null; }
thaw() { thaw_port_holder "$3"; }
report_unit() { echo "$UNIT-pm2.service"; }
