ports_of() { if [ "$1" = blue ]; then echo "${BLUE_PORTS[*]}"; else echo "${GREEN_PORTS[*]}"; fi; }
other() { if [ "$1" = blue ]; then echo green; else echo blue; fi; }
# Replaces PATH by a symlink to TARGET in one rename: never a moment without it.
link() { ln -sfn "$1" "$2.new" && mv -T "$2.new" "$2"; }
# Writes stdin to PATH in one rename.
put() { cat > "$1.new" && mv -f "$1.new" "$1"; }
# listeners PORT: "UID INODE" of each socket listening on PORT. Read from ss's fixed fields only: a
# process's name is its owner's choice and can hold anything (`",pid=1,fd=3`), so `ss -p` is never parsed.
# Field 6 is uid:N, which ss leaves out for root's sockets, or else ino:N.
listeners() {
  ss -Hltne "sport = :$1" 2>/dev/null | awk '{
    uid = 0; ino = ""
    if ($6 ~ /^uid:[0-9]+$/) { uid = substr($6, 5); if ($7 ~ /^ino:[0-9]+$/) ino = substr($7, 5) }
    else if ($6 ~ /^ino:[0-9]+$/) ino = substr($6, 5)
    print uid, ino
  }'
}
# holders INODE: the pids with that socket open, from /proc (a pid is the directory it was found in).
holders() {
  [ -n "$1" ] || return 0
  find /proc/[0-9]*/fd -maxdepth 1 -lname "socket:\[$1\]" 2>/dev/null | cut -d/ -f3 | sort -u
}
# owns_port PORT: every socket listening on PORT is PORT_OWNER's (the runtime says whose: the service's
# user, or root's docker-proxy). Another service's user could otherwise hold an idle slot's port, answer
# its health check, and take the service's traffic once the proxy switches to it.
owns_port() {
  local uid _ino owner found=no
  while read -r uid _ino; do
    if [ "$found" = no ]; then owner=$(id -u "$PORT_OWNER" 2>/dev/null) || return 1; found=yes; fi
    [ "$uid" = "$owner" ] || return 1
  done < <(listeners "$1")
  return 0  # nothing listens: nobody else answered either
}
# evict_strangers PORT: kills what listens on PORT as a user other than PORT_OWNER and root: another
# service's process that took the port while the instance restarted, and would take its traffic.
evict_strangers() {
  local owner uid ino pid
  owner=$(id -u "$PORT_OWNER" 2>/dev/null) || return 0
  while read -r uid ino; do
    if [ "$uid" = "$owner" ] || [ "$uid" = 0 ]; then continue; fi
    for pid in $(holders "$ino"); do
      log "port $1 is held by pid $pid of uid $uid, not $PORT_OWNER's: killed"
      kill -KILL "$pid" 2>/dev/null || true
    done
  done < <(listeners "$1")
}
# Wakes whatever holds PORT (kill -CONT): a frozen process cannot take a restart's stop signal.
thaw_port_holder() {
  local _uid ino pid
  while read -r _uid ino; do
    for pid in $(holders "$ino"); do kill -CONT "$pid" 2>/dev/null || true; done
  done < <(listeners "$1")
}
# as_user USER COMMAND...: COMMAND as USER, in a session of its own with no terminal: code of that user's
# (a build step, its PM2) can never type into the terminal of a root who runs a deploy by hand. Nor does
# it get the deploy's lock (fd 9): a process it leaves behind would hold it, and stop every later deploy.
as_user() { local user=$1; shift; setsid --wait runuser -u "$user" -- "$@" < /dev/null 9>&-; }
