ports_of() { if [ "$1" = blue ]; then echo "${BLUE_PORTS[*]}"; else echo "${GREEN_PORTS[*]}"; fi; }
other() { if [ "$1" = blue ]; then echo green; else echo blue; fi; }
# Replaces PATH by a symlink to TARGET in one rename: never a moment without it.
link() { ln -sfn "$1" "$2.new" && mv -T "$2.new" "$2"; }
# Writes stdin to PATH in one rename.
put() { cat > "$1.new" && mv -f "$1.new" "$1"; }
# owns_port PORT: every socket listening on PORT is PORT_OWNER's (the runtime says whose: the service's
# user, or root's docker-proxy). Another service's user could otherwise hold an idle slot's port, answer
# its health check, and take the service's traffic once the proxy switches to it.
owns_port() {
  local uids uid owner
  uids=$(ss -Hltne "sport = :$1" 2>/dev/null | sed -E 's/.* uid:([0-9]+) .*/\1/; t; s/.*/0/')
  [ -n "$uids" ] || return 0  # nothing listens: nobody else answered either
  owner=$(id -u "$PORT_OWNER" 2>/dev/null) || return 1
  for uid in $uids; do [ "$uid" = "$owner" ] || return 1; done
}
# evict_strangers PORT: kills what listens on PORT as a user other than PORT_OWNER and root: another
# service's process that took the port while the instance restarted, and would take its traffic.
evict_strangers() {
  local owner line uid pid
  owner=$(id -u "$PORT_OWNER" 2>/dev/null) || return 0
  while read -r line; do
    uid=0
    if [[ $line =~ \ uid:([0-9]+)\  ]]; then uid=${BASH_REMATCH[1]}; fi
    if [ "$uid" = "$owner" ] || [ "$uid" = 0 ]; then continue; fi
    while read -r pid; do
      log "port $1 is held by pid $pid of uid $uid, not $PORT_OWNER's: killed"
      kill -KILL "$pid" 2>/dev/null || true
    done < <(grep -o 'pid=[0-9]*' <<< "$line" | cut -d= -f2 | sort -u)
  done < <(ss -Hltnpe "sport = :$1" 2>/dev/null)
}
# Wakes whatever holds PORT (kill -CONT): a frozen process cannot take a restart's stop signal.
thaw_port_holder() {
  local pid
  for pid in $(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    kill -CONT "$pid" 2>/dev/null || true
  done
}
# as_user USER COMMAND...: COMMAND as USER, in a session of its own with no terminal: code of that user's
# (a build step, its PM2) can never type into the terminal of a root who runs a deploy by hand. Nor does
# it get the deploy's lock (fd 9): a process it leaves behind would hold it, and stop every later deploy.
as_user() { local user=$1; shift; setsid --wait runuser -u "$user" -- "$@" < /dev/null 9>&-; }
