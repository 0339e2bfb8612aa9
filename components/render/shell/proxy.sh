# served_color: the slot the upstream file routes to (blue, green), legacy (the process stackyard took
# over), or none.
served_color() {
  local port
  port=$(grep -o '127\.0\.0\.1:[0-9]*' "$UPSTREAM" 2>/dev/null | head -n 1 | cut -d: -f2) || true
  if [ -z "$port" ]; then echo none
  elif [ "$port" = "${BLUE_PORTS[0]}" ]; then echo blue
  elif [ "$port" = "${GREEN_PORTS[0]}" ]; then echo green
  else echo legacy
  fi
}
# switch_to COLOR: the upstream routes to COLOR's instances; the previous one stays if the proxy refuses.
# (Called in `if`, where bash ignores set -e: every step says so when it fails.)
# The file says where the proxy routes only once it is loaded: a switch stopped between its move and the
# reload left the file naming a slot the proxy did not route to, and the next deploy, reading the file,
# reloaded nothing and said "already serving" while the proxy routed where nothing ran. So a mark
# ($UPSTREAM.unloaded) is written before the move and goes only after the reload, once the caller has
# recorded the switch (upstream_loaded: its removal failing fails the deploy, not the switch, which the
# caller would undo under the proxy); the next repair loads a marked file first (load_marked_upstream).
switch_to() {
  upstream_of "$1" > "$UPSTREAM.new" || return 1
  if [ -f "$UPSTREAM" ]; then cp -p "$UPSTREAM" "$UPSTREAM.previous" || return 1; fi
  touch "$UPSTREAM.unloaded" || return 1
  mv -f "$UPSTREAM.new" "$UPSTREAM" || return 1
  if ! reload_proxy; then
    log "the proxy refused the new upstream; restoring the previous one"
    # The mark stays unless the previous file is back and loaded.
    if [ -f "$UPSTREAM.previous" ]; then
      mv -f "$UPSTREAM.previous" "$UPSTREAM" && reload_proxy && rm -f "$UPSTREAM.unloaded"
    fi
    return 1
  fi
}
upstream_loaded() { rm -f "$UPSTREAM.unloaded"; }
load_marked_upstream() {
  [ -e "$UPSTREAM.unloaded" ] || return 0
  log "repair: a switch was stopped before the proxy loaded its upstream; loading it"
  reload_proxy || { log "repair: the proxy would not reload; nothing was changed"; return 1; }
  rm -f "$UPSTREAM.unloaded"
}
