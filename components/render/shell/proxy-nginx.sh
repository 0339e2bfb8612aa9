# The service's nginx upstream: one file per service, rewritten by a switch, applied by a checked reload
# (graceful: open connections finish on the old workers).
upstream_of() {
  local port
  echo "upstream $UPSTREAM_NAME {"
  for port in $(ports_of "$1"); do echo "    server 127.0.0.1:$port max_fails=0;"; done
  echo "}"
}
# The host's nginx's workers that still take new connections: children of its master (not another nginx,
# such as one in a container) whose title does not say "shutting down" (a worker told to stop renames
# itself so, and closes its listening sockets).
accepting_workers() {
  local master status pid title
  master=$(cat /run/nginx.pid 2>/dev/null) || return 0
  for status in /proc/[0-9]*/status; do
    pid=${status#/proc/}
    pid=${pid%/status}
    [ "$(awk '/^PPid:/ { print $2 }' "$status" 2>/dev/null)" = "$master" ] || continue
    title=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || continue
    if [[ $title == "nginx: worker process"* && $title != *"shutting down"* ]]; then echo "$pid"; fi
  done
}
# `systemctl reload nginx` returns once nginx has the signal, not once it has read the new upstream: until
# its new workers start, the old ones take requests for the slot about to be stopped. So the reload is
# done once none of the workers from before it takes connections any more; if one still does after 10 s,
# the reload failed (the switch then puts the previous upstream back, and the old slot keeps serving).
# The check and the reload run under the certificates step's lock (provision.certificates_locked): while
# its certbot works, a certificate is set aside and nginx would refuse the site. One set aside by a run
# stopped before certbot was done is put back first.
reload_proxy() {
  local before pid waited=0 old
  {
    flock 8 || return 1
    restore_set_aside_certificates || return 1
    nginx -t -q || return 1
    before=$(accepting_workers)
    systemctl reload nginx || return 1
  } 8>"$CERTIFICATES_LOCK" || return 1
  while :; do
    old=no
    for pid in $before; do
      if [ -d "/proc/$pid" ] && [[ $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) != *"shutting down"* ]]; then
        old=yes
      fi
    done
    [ "$old" = yes ] || return 0
    if [ "$waited" -ge 100 ]; then
      log "nginx's workers from before the reload still take connections after 10 s"
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}
