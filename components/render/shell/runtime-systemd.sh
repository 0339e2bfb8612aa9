# Slots as systemd units: a template unit per slot, one instance per port (a worker: one plain unit).
# Its instances listen as the service's user (owns_port).
PORT_OWNER=$SERVICE_USER
# A port of an instance that nothing holds is nobody's (owns_port).
unheld_is_ours() { return 1; }
units_of() {
  local color=$1 port
  if [ -z "$(ports_of "$color")" ]; then echo "$UNIT-$color.service"; return; fi
  for port in $(ports_of "$color"); do echo "$UNIT-$color@$port.service"; done
}
# (Called in `if`, where bash ignores set -e: every step says so when it fails.)
start_slot() {
  systemctl daemon-reload || return 1
  # shellcheck disable=SC2046
  systemctl restart $(units_of "$1") || return 1
  # shellcheck disable=SC2046
  systemctl enable --quiet $(units_of "$1")
}
# stop_slot COLOR: the slot's units under either naming (a service that gained or lost its port left its
# old slot's units running under the other), those whose unit file is there: systemd refuses to disable
# one whose file is not (a slot never prepared), and the whole command with it.
stop_slot() {
  local color=$1 dir=${DEFINITION_BLUE%/*} unit units=() loaded
  loaded=$(systemctl list-units --all --plain --no-legend "$UNIT-$color@*.service") || return 1
  for unit in $(units_of "$color") "$UNIT-$color.service" $(awk '{ print $1 }' <<<"$loaded"); do
    if [[ $unit == *@* ]]; then [ -f "$dir/${unit%@*}@.service" ] || continue; else [ -f "$dir/$unit" ] || continue; fi
    [[ " ${units[*]} " == *" $unit "* ]] || units+=("$unit")
  done
  if [ "${#units[@]}" -gt 0 ]; then systemctl disable --quiet --now "${units[@]}"; fi
}
# Removal: nothing besides the slots' units.
forget_runtime() { :; }
# The watchdog's pieces: restart one instance; thaw whatever holds its port (a frozen, SIGSTOPped process
# cannot take the stop signal of a restart); the unit its report shows.
restart_instance() { systemctl restart "$UNIT-$1@$3.service"; }
thaw() { thaw_port_holder "$3"; }
report_unit() { echo "$UNIT-$1@$3.service"; }
