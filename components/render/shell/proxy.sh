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
switch_to() {
  upstream_of "$1" > "$UPSTREAM.new" || return 1
  if [ -f "$UPSTREAM" ]; then cp -p "$UPSTREAM" "$UPSTREAM.previous" || return 1; fi
  mv -f "$UPSTREAM.new" "$UPSTREAM" || return 1
  if ! reload_proxy; then
    log "the proxy refused the new upstream; restoring the previous one"
    if [ -f "$UPSTREAM.previous" ]; then mv -f "$UPSTREAM.previous" "$UPSTREAM"; reload_proxy || true; fi
    return 1
  fi
}
