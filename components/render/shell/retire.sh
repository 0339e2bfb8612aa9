# What served the service before stackyard (`replaces`): an old PM2's processes, systemd units. Stopped
# once: a PM2 daemon that is not running is not started (any pm2 command would start one), a process or
# unit already gone is skipped.
# The old PM2's home, resolved once (LEGACY_HOME, a host path): the old app's user may own a directory
# above it, and swap it for a link between a check and a use, so every use goes by what was checked. One
# reached through a link is left alone, and so is one of root's under a directory someone else owns
# (root_only): root's PM2 would otherwise work in a directory that user controls.
legacy_home() {
  local home
  home=$(realpath -e -- "$ROOT$LEGACY_PM2_HOME" 2>/dev/null) || return 1
  if [ "$home" != "$ROOT$LEGACY_PM2_HOME" ]; then
    log "$LEGACY_PM2_HOME is reached through a link: its PM2 is left alone"
    return 1
  fi
  LEGACY_OWNER=$(stat -c %U -- "$home") || return 1
  if [ "$LEGACY_OWNER" = root ] && ! root_only "$home" 2>/dev/null; then
    log "$LEGACY_PM2_HOME is not root's alone: its PM2 is left alone"
    return 1
  fi
  LEGACY_HOME=${home#"$ROOT"}
}
# The old PM2, as the owner of its home (root's for /root/.pm2).
legacy_pm2() {
  as_user "$LEGACY_OWNER" env HOME="$(getent passwd "$LEGACY_OWNER" | cut -d: -f6)" PM2_HOME="$LEGACY_HOME" pm2 "$@"
}
retire_legacy() {
  local pid name unit gone=no
  if [ ${#LEGACY_PM2[@]} -gt 0 ] && legacy_home; then
    # The pid file is its user's: a pipe would hold the deploy forever, and an endless file (a link to
    # /dev/urandom) fill root's memory; 32 bytes hold any pid.
    pid=$(timeout 5 head -c 32 -- "$ROOT$LEGACY_HOME/pm2.pid" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      for name in "${LEGACY_PM2[@]}"; do
        if legacy_pm2 describe "$name" >/dev/null 2>&1; then
          legacy_pm2 delete "$name" >/dev/null
          log "stopped the old PM2 process $name ($LEGACY_HOME)"
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
