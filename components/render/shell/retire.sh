# What served the service before stackyard (`replaces`): an old PM2's processes, systemd units. Stopped
# once: a PM2 daemon that is not running is not started (any pm2 command would start one), a process or
# unit already gone is skipped.
legacy_pm2() {
  local owner
  owner=$(stat -c %U "$ROOT$LEGACY_PM2_HOME")
  runuser -u "$owner" -- env HOME="$(getent passwd "$owner" | cut -d: -f6)" PM2_HOME="$LEGACY_PM2_HOME" pm2 "$@"
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
# A worker's old process stops before the new one starts: two sync jobs must never run at once. A
# service's stops once the new release takes its traffic.
retire_worker_legacy() { if [ ${#BLUE_PORTS[@]} -eq 0 ]; then retire_legacy; fi; }
retire_service_legacy() { if [ ${#BLUE_PORTS[@]} -gt 0 ]; then retire_legacy; fi; }
