# Removes the service from this host: stops both slots, its watchdog and its runtime's own processes, and
# forgets its upstream and its slots' copies of the settings. By then the proxy no longer routes to it: the
# proxy step, which runs before the removal of a service, rendered the site without it. Releases and shared/ stay: none
# of the service's data is lost.
log() { printf '[remove %s] %s\n' "$APP" "$*"; }
# A resource of the stack still holds the service (stackyard-claim): a rename, never a removal.
claims="$ROOT/var/lib/stackyard/claims/service/$APP"
if [ -n "$(find "$claims" -mindepth 1 -maxdepth 1 2>/dev/null)" ]; then
  log "kept: the stack still holds it ($(find "$claims" -mindepth 1 -maxdepth 1 -printf '%f '))"
  exit 0
fi
systemctl disable --quiet --now "$WATCHDOG_UNIT.timer" 2>/dev/null || true
rm -f "$WATCHDOG" "$WATCHDOG.next"  # kept, it would watch with its old settings if the service came back
rm -f "$LOGROTATE"  # the logs themselves stay
for color in blue green; do stop_slot "$color"; stop_other_runtimes "$color" leaving; done
forget_runtime
if [ -n "$UPSTREAM" ]; then
  rm -f "$UPSTREAM.unloaded"
  # The proxy's site still includes it when the whole host leaves the stack, or the stack is destroyed (no
  # proxy step runs before such a removal): deleted, no configuration of the proxy would load again (a
  # reload, a renewal's hook, a boot), and the operator's own sites would go down with it. It stays, pointing
  # at port 1, which no service's user can hold: the name answers 502.
  # (What the proxy loads: the sites enabled, conf.d, nginx.conf, the Caddyfile; never a copy kept aside.)
  if [ -f "$UPSTREAM" ] && grep -qsF -- "${UPSTREAM#"$ROOT"}" "$ROOT"/etc/nginx/sites-enabled/* \
      "$ROOT"/etc/nginx/conf.d/*.conf "$ROOT/etc/nginx/nginx.conf" "$ROOT/etc/caddy/Caddyfile"; then
    sed -E 's/127\.0\.0\.1:[0-9]+/127.0.0.1:1/g' "$UPSTREAM" > "$UPSTREAM.new" && mv -f "$UPSTREAM.new" "$UPSTREAM"
  else
    rm -f "$UPSTREAM"
  fi
fi
rm -f "$BASE/active" "$BASE/state/blue" "$BASE/state/green"
rm -rf "$ETC/slots"
log "stopped; releases and shared data are kept in $BASE"
