ports_of() { if [ "$1" = blue ]; then echo "${BLUE_PORTS[*]}"; else echo "${GREEN_PORTS[*]}"; fi; }
other() { if [ "$1" = blue ]; then echo green; else echo blue; fi; }
# Replaces PATH by a symlink to TARGET in one rename: never a moment without it.
link() { ln -sfn "$1" "$2.new" && mv -T "$2.new" "$2"; }
# Writes stdin to PATH in one rename.
put() { cat > "$1.new" && mv -f "$1.new" "$1"; }
# listeners PORT: "UID INODE ADDRESS" of each socket listening on PORT where the proxy's connections to
# 127.0.0.1 land: 127.0.0.1, or every IPv4 address, as IPv4 or IPv6 sockets (`*` is [::] taking IPv4 too;
# a v6only [::] shows as itself and takes none), bound to a device or not. Read from ss's fixed fields
# only: a process's name is its owner's choice and can hold anything (`",pid=1,fd=3`), so `ss -p` is
# never parsed. Field 4 is the local address, field 6 uid:N (left out for root's sockets) or else ino:N.
# `listeners PORT all`: on any address.
listeners() {
  ss -Hltne "sport = :$1" 2>/dev/null | awk -v port="$1" -v all="${2:-}" '{
    here = $4; sub(/%[^:]*:[0-9]+$/, ":" port, here)
    if (all != "all" && here != "127.0.0.1:" port && here != "0.0.0.0:" port && here != "*:" port \
        && here != "[::ffff:127.0.0.1]:" port && here != "[::ffff:0.0.0.0]:" port) next
    uid = 0; ino = ""
    if ($6 ~ /^uid:[0-9]+$/) { uid = substr($6, 5); if ($7 ~ /^ino:[0-9]+$/) ino = substr($7, 5) }
    else if ($6 ~ /^ino:[0-9]+$/) ino = substr($6, 5)
    print uid, ino, here
  }'
}
# holders INODE: the pids with that socket open, from /proc (a pid is the directory it was found in).
holders() {
  [ -n "$1" ] || return 0
  find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\[$1\]" 2>/dev/null | cut -d/ -f3 | sort -u
}
# owns_port PORT: PORT_OWNER (the runtime says whose: the service's user, or root's docker-proxy) listens
# on PORT, and nobody else does. Asked after a health check answered: another service's user could
# otherwise hold an idle slot's port, answer the check, and take the traffic once the proxy switches to
# it; and one that answered and let go of the port before this question finds it held by nobody. A port
# held by nobody is the service's only where the runtime says so (unheld_is_ours: a running container
# that Docker forwards it to in the kernel, ahead of any socket, without its userland proxy).
owns_port() {
  local uid _rest owner found=no
  owner=$(id -u "$PORT_OWNER" 2>/dev/null) || return 1
  while read -r uid _rest; do
    [ "$uid" = "$owner" ] || return 1
    found=yes
  done < <(listeners "$1")
  [ "$found" = yes ] || unheld_is_ours "$1"
}
# evict_strangers PORT: what listens on PORT as a user other than PORT_OWNER and root, where the proxy's
# connections land, goes: another service's process that took the port while the instance restarted,
# and would take its traffic. Its processes are killed; a socket still listening then (one passed away
# over a Unix socket, held by no process, still queues connections) is destroyed by its address
# (`ss -K`, CAP_NET_ADMIN), unless the owner or root listens there too.
evict_strangers() {
  local owner uid ino here pid
  local -a left=()
  owner=$(id -u "$PORT_OWNER" 2>/dev/null) || return 0
  while read -r uid ino _; do
    if [ "$uid" = "$owner" ] || [ "$uid" = 0 ]; then continue; fi
    for pid in $(holders "$ino"); do
      log "port $1 is held by pid $pid of uid $uid, not $PORT_OWNER's: killed"
      kill -KILL "$pid" 2>/dev/null || true
    done
  done < <(listeners "$1")
  while read -r uid _ here; do
    if [ "$uid" = "$owner" ] || [ "$uid" = 0 ]; then return 0; fi
    left+=("$here")
  done < <(listeners "$1")
  for here in "${left[@]}"; do
    ss -K -tln "src $here" >/dev/null 2>&1 || true
  done
  # ss -K says nothing when the kernel cannot destroy a socket: what still listens says it.
  for here in "${left[@]}"; do
    if listeners "$1" | awk -v here="$here" '$3 == here { found = 1 } END { exit !found }'; then
      log "port $1: another user's socket on $here still listens, and could not be destroyed"
    else
      log "port $1: another user's socket on $here, left listening once its holders were killed, destroyed"
    fi
  done
}
# Wakes whatever holds PORT (kill -CONT): a frozen process cannot take a restart's stop signal.
# Only the owner's: another user's process holding the port is evicted, never woken.
thaw_port_holder() {
  local uid ino pid owner
  owner=$(id -u "$PORT_OWNER" 2>/dev/null) || return 0
  while read -r uid ino _; do
    [ "$uid" = "$owner" ] || continue
    for pid in $(holders "$ino"); do kill -CONT "$pid" 2>/dev/null || true; done
  done < <(listeners "$1")
}
# strangers_listen PORT: a socket of a user other than PORT_OWNER listens on PORT where the proxy's
# connections land, whatever it answers (it may fail only the checks it tells apart, and serve the rest).
strangers_listen() {
  local uid _rest owner
  owner=$(id -u "$PORT_OWNER" 2>/dev/null) || return 1
  while read -r uid _rest; do [ "$uid" = "$owner" ] || return 0; done < <(listeners "$1")
  return 1
}
# as_user USER COMMAND...: COMMAND as USER, in a session of its own with no terminal: code of that user's
# (a build step, its PM2) can never type into the terminal of a root who runs a deploy by hand. Nor does
# it get the deploy's lock (fd 9): a process it leaves behind would hold it, and stop every later deploy.
as_user() { local user=$1; shift; setsid --wait runuser -u "$user" -- "$@" < /dev/null 9>&-; }
# definition_of COLOR: where the slot's process definition is (a unit, an ecosystem or a compose file).
definition_of() { if [ "$1" = blue ]; then echo "$DEFINITION_BLUE"; else echo "$DEFINITION_GREEN"; fi; }
# stop_other_runtimes COLOR [leaving]: what another runtime runs of the slot. A service moved to another
# runtime (systemd, PM2, compose) left its serving slot to the old one, whose scripts are no longer
# rendered: its units and containers of that colour are stopped with the slot, or the old process would run
# on beside the new one (two syncs at once). The one PM2 daemon of both slots that stackyard ran before
# each slot had its own holds both colours' processes, so it goes only when the service is leaving it
# ("leaving": after the switch away from its slot, or at removal); stopping a failed new slot must not take
# the serving one with it, nor may a repair's stop of a slot that a deploy moving off that daemon started
# and never switched to (the active slot still runs under it).
# shared_pm2_serves: the active slot is PM2's and has no daemon of its own running: it runs under the one
# daemon of both slots of before.
shared_pm2_serves() {
  local current
  [ "$RUNTIME" = pm2 ] || return 1
  read -r current _ < "$BASE/active" 2>/dev/null || return 1
  ! systemctl is-active --quiet "$UNIT-pm2@$current.service"
}
stop_other_runtimes() {
  local color=$1 patterns=() units
  if [ "$RUNTIME" != systemd ]; then patterns+=("$UNIT-$color.service" "$UNIT-$color@*.service"); fi
  if [ "$RUNTIME" != pm2 ]; then patterns+=("$UNIT-pm2@$color.service"); fi
  if [ "${2:-}" = leaving ] && ! shared_pm2_serves; then patterns+=("$UNIT-pm2.service"); fi
  # (No pattern at all would list every unit of the host.)
  if [ "${#patterns[@]}" -gt 0 ]; then
    units=$(systemctl list-units --all --plain --no-legend "${patterns[@]}" | awk '{ print $1 }') || return 1
    if [ -n "$units" ]; then
      # shellcheck disable=SC2086
      systemctl disable --quiet --now $units || return 1
    fi
  fi
  if [ "$RUNTIME" != compose ] && command -v docker >/dev/null \
    && [ -n "$(docker ps --all --quiet --filter "label=com.docker.compose.project=$APP-$color")" ]; then
    docker compose --project-name "$APP-$color" down --timeout 30 || return 1
  fi
}
