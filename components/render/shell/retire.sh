# What served the service before stackyard (`replaces`): an old PM2's processes, systemd units. Stopped
# once: a PM2 daemon that is not running is not started (any pm2 command would start one), a process or
# unit already gone is skipped.
# The old PM2, as the owner of its home (root's for /root/.pm2); a home that is a link is not followed.
legacy_pm2() {
  local owner
  if [ -L "$ROOT$LEGACY_PM2_HOME" ]; then log "$LEGACY_PM2_HOME is a link: its PM2 is left alone"; return 1; fi
  owner=$(stat -c %U "$ROOT$LEGACY_PM2_HOME")
  as_user "$owner" env HOME="$(getent passwd "$owner" | cut -d: -f6)" PM2_HOME="$LEGACY_PM2_HOME" pm2 "$@"
}
retire_legacy() {
  local pid name unit gone=no
  if [ ${#LEGACY_PM2[@]} -gt 0 ]; then
    pid=$(cat "$ROOT$LEGACY_PM2_HOME/pm2.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      for name in "${LEGACY_PM2[@]}"; do
        if legacy_pm2 describe "$name" >/dev/null 2>&1; then
          legacy_pm2 delete "$name" >/dev/null
          log "stopped the old PM2 process $name ($LEGACY_PM2_HOME)"
          gone=yes
        fi
      done
      # Saved, so that the old daemon does not resurrect them at boot.
      if [ "$gone" = yes ]; then legacy_pm2 save --force >/dev/null; fi
    fi
  fi
  for unit in "${LEGACY_UNITS[@]}"; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit"; then
      systemctl disable --quiet --now "$unit"
      log "stopped and disabled the old unit $unit"
    fi
  done
}
# Once it is done for these names, it is not done again; a deploy stopped before it finished (after its
# commit) leaves no record, and the next one, even one that finds its release serving, finishes it.
retire_once() {
  local names="${LEGACY_PM2[*]:-} ${LEGACY_UNITS[*]:-}"
  if [ "$names" = " " ] || [ "$(cat "$BASE/state/retired" 2>/dev/null)" = "$names" ]; then return 0; fi
  retire_legacy
  printf '%s\n' "$names" | put "$BASE/state/retired"
}
# A worker's old process stops before the new one starts: two sync jobs must never run at once. A
# service's stops once the new release takes its traffic.
retire_worker_legacy() { if [ ${#BLUE_PORTS[@]} -eq 0 ]; then retire_once; fi; }
retire_service_legacy() { if [ ${#BLUE_PORTS[@]} -gt 0 ]; then retire_once; fi; }
