# Health watchdog of one service, run by its timer. Each run checks every instance of the serving slot on
# every path; one that failed FAILURES runs in a row is thawed and restarted alone, then checked again
# with the deploy's health budget; if it still fails, a diagnostic report goes to the journal. After
# RESTARTS restarts in a row that did not help it only counts, until the instance answers again. State:
# one counter file per instance port.
log() { printf '%s\n' "$*"; }

# Every path answers 2xx on this port, which the service alone holds, before and after.
healthy() {
  local port=$1 path code
  if ! strangers_listen "$port"; then
    for path in "${PATHS[@]}"; do
      code=$(curl -s -o /dev/null --max-time "$TIMEOUT" -w '%{http_code}' "http://127.0.0.1:$port$path") || true
      if [[ $code != 2* ]]; then
        last_answer="$path: HTTP ${code:-none}"
        return 1
      fi
    done
    owns_port "$port" && return 0
  fi
  last_answer="the port is held by a process that is not $PORT_OWNER's"
  stranger=yes
  return 1
}

report() {
  local color=$1 index=$2 port=$3 unit
  unit=$(report_unit "$color" "$index" "$port")
  log "=== stackyard watchdog: diagnostic report for $APP instance $port ($color slot) ==="
  log "--- last answer: $last_answer"
  log "--- unit"; systemctl status --no-pager --lines=0 "$unit" 2>&1 | head -n 12
  log "--- recent logs"; journalctl --no-pager --quiet -n 30 -u "$unit" 2>&1 | tail -n 30
  log "--- listening ports"; ss -Hltnp 2>&1 | head -n 40
  log "--- memory"; free -m 2>&1
  log "--- disk"; df -h / "$BASE" 2>&1
  log "--- load"; uptime 2>&1
  log "=== end of report ==="
}

if [ ! -f "$BASE/active" ]; then exit 0; fi  # nothing deployed yet
read -r color _ _ _ active_runtime active_watchdog _ < "$BASE/active"
# The serving slot was started with another watchdog's settings (a deploy stopped between its switch and
# putting this one in place): its paths or ports may not be these.
if [ -n "${active_watchdog:-}" ] && [ "$active_watchdog" != "$(sha256sum < "$0" | cut -c1-16)" ]; then
  log "the serving $color slot was deployed for another watchdog's settings: not watched until a deploy puts it in place"
  exit 0
fi
# The serving slot is another runtime's (a move between runtimes whose deploy has not switched yet): its
# processes are not PORT_OWNER's, and evicting or restarting them as this runtime's took it down (a move
# to compose: root's ports, the old slot's the service user's). Records from before the runtime was
# recorded name none: they are watched as they were.
if [ -n "${active_runtime:-}" ] && [ "$active_runtime" != "$RUNTIME" ]; then
  log "the serving $color slot is $active_runtime's, not $RUNTIME's: not watched until a deploy switches"
  exit 0
fi
if [ "$color" = blue ]; then ports=("${BLUE_PORTS[@]}"); else ports=("${GREEN_PORTS[@]}"); fi
install -d -m 0700 "$WATCHDOG_STATE"

index=0
for port in "${ports[@]}"; do
  failures=0 restarts=0
  if [ -f "$WATCHDOG_STATE/$port" ]; then read -r failures restarts < "$WATCHDOG_STATE/$port"; fi
  last_answer="" stranger=no
  if healthy "$port"; then
    if [ "$failures" -gt 0 ] || [ "$restarts" -gt 0 ]; then log "instance $port healthy again"; fi
    rm -f "$WATCHDOG_STATE/$port"
  else
    failures=$((failures + 1))
    log "instance $port failed its check ($failures in a row): $last_answer"
    # Not a failure to wait out: the traffic goes to someone else until the port is the service's again.
    if [ "$stranger" = yes ]; then evict_strangers "$port"; fi
    if [ "$failures" -ge "$FAILURES" ]; then
      if [ "$restarts" -ge "$RESTARTS" ]; then
        if [ "$failures" -eq "$FAILURES" ]; then
          log "instance $port: $RESTARTS restarts did not bring it back; no more restarts until it answers again"
        fi
      else
        restarts=$((restarts + 1))
        log "restarting instance $port ($color slot; restart $restarts of at most $RESTARTS in a row)"
        thaw "$color" "$index" "$port"
        restart_instance "$color" "$index" "$port" || log "the restart of instance $port failed"
        recovered=no
        for _ in $(seq "$VERIFY_TRIES"); do
          sleep "$VERIFY_INTERVAL"
          if healthy "$port"; then recovered=yes; break; fi
        done
        if [ "$recovered" = yes ]; then
          log "instance $port answers again after the restart"
          failures=0 restarts=0
        else
          report "$color" "$index" "$port"
          failures=0
        fi
      fi
    fi
    if [ "$failures" -gt 0 ] || [ "$restarts" -gt 0 ]; then
      printf '%s %s\n' "$failures" "$restarts" > "$WATCHDOG_STATE/$port"
    else
      rm -f "$WATCHDOG_STATE/$port"
    fi
  fi
  index=$((index + 1))
done
