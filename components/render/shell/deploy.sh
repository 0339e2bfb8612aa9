# The deploy of one service: build the release beside the running one, start it in the idle slot with
# that slot's own copy of the settings, health-check it, then commit: the proxy's upstream and `active`
# move to it; only then is the old slot stopped.
#
# Killed or failing at any point, a slot the proxy routes to is running, and the next deploy repairs any
# disagreement before it does anything else (repair below): a slot the proxy already routes to is adopted
# as active when it answers, a slot left running beside the active one is stopped. A failed deploy stops
# only the slot it started; the serving slot keeps its release, env file, secret files and definitions.
#
# Needs, from the header: APP ROOT BASE ETC ENV_FILE FILES RELEASE_FILES RELEASE_OWNER REPO DEFAULT_REF SERVICE_USER
# STATE KEEP HEALTH_* BLUE_PORTS GREEN_PORTS ENV_GROUP DEFINITION_BLUE DEFINITION_GREEN SLOT_FILES GIT_SSH RUNTIME_FILES,
# and the runtime's start_slot/stop_slot, the proxy's switch_to/served_color, retire_legacy.

RESTART=no
if [ "${1:-}" = --restart ]; then RESTART=yes; shift; fi
REF=${1:-$DEFAULT_REF}
if [[ $REF == -* ]]; then echo "deploy: a ref never starts with '-': $REF" >&2; exit 2; fi

log() { printf '[deploy %s] %s\n' "$APP" "$*"; }
# Builds run as the service user with HOME in its state directory (uv and npm caches), never in
# shared/, which holds the app's data and is what backups archive.
in_release() { (cd "$1" && as_user "$SERVICE_USER" env HOME="$STATE" bash -c "$2"); }
# Git from the operator's allowed transports only, with the service's deploy key if it has one.
git_() {
  (if [ -n "$GIT_SSH" ]; then export GIT_SSH_COMMAND=$GIT_SSH; fi
   GIT_ALLOW_PROTOCOL=https:http:ssh:file GIT_TERMINAL_PROMPT=0 git "$@")
}

# The digest of what the service's files hold: their names and contents.
files_digest() {
  local name
  if [ -z "$(find "$FILES" -type f -print -quit 2>/dev/null)" ]; then echo none; return; fi
  (cd "$FILES" && find . -type f -print0 | sort -z | while IFS= read -r -d '' name; do
     printf '%s\0' "$name"; sha256sum < "$name"; done) | sha256sum | cut -c1-16
}
# How a release is built: the runtime's and the service's steps, and its release phase's commands (none: the
# digest a service without one always had). A release is built once (its marker), so a changed step makes a
# release of its own, never a rebuild of the one that serves; a changed release phase runs in a new release.
build_digest() {
  { declare -f prepare_release; if [ ${#RELEASE[@]} -gt 0 ]; then printf 'release %s\n' "${RELEASE[@]}"; fi; } \
    | sha256sum | cut -c1-12
}
# What a slot is started with besides its commit: the env file, the process definitions, the runtime's own
# files (PM2's daemon unit: a changed one was "already serving", and never reached the daemon), the files,
# the slots' ports (a systemd template holds neither the instance count nor the port: a change of either
# with the same commit was "already serving"), how the release is built. The definitions of this runtime and
# naming only: the staged directory keeps those of a runtime the service had before (systemd units beside
# PM2 files), and hashing them all made a move back look like no change.
settings_id() {
  { cat "$ENV_FILE" "$ETC/staged/${DEFINITION_BLUE##*/}" "$ETC/staged/${DEFINITION_GREEN##*/}" \
      "${RUNTIME_FILES[@]}" 2>/dev/null || true; files_digest; echo "ports ${BLUE_PORTS[*]:-} / ${GREEN_PORTS[*]:-}"; build_digest
    watched; } \
    | sha256sum | cut -c1-16
}
# What the watchdog checks (its paths, ports and budget): the staged script, or the one in place once no
# other is staged. A change of it alone (a new health path) is a deploy, health-checked on the new path.
watched() {
  if [ -f "$WATCHDOG.next" ]; then sha256sum < "$WATCHDOG.next"; elif [ -f "$WATCHDOG" ]; then sha256sum < "$WATCHDOG"; fi
}
# promote_watchdog: the staged watchdog goes in place once a slot serves with its settings (a rename:
# the watchdog runs the old script or the new one, whole). The records name it (their last field): until it
# is in place, the one there finds itself not named and watches nothing.
promote_watchdog() { if [ -f "$WATCHDOG.next" ]; then mv -f "$WATCHDOG.next" "$WATCHDOG"; fi; }

# check_health PORT: 2xx on HEALTH_PATH within the budget. The last answer's body is kept for root
# (it may hold anything the app prints); the log says only its status and where it is.
check_health() (
  umask 077  # the answer is root's alone (a subshell: the rest of the deploy keeps its umask)
  local port=$1 try=1 code
  while :; do
    code=$(curl -sS --max-time "$HEALTH_TIMEOUT" -o "$BASE/.health-answer" -w '%{http_code}' \
      "http://127.0.0.1:$port$HEALTH_PATH" 2>"$BASE/.health-error") || true
    if [[ $code == 2* ]]; then
      if ! owns_port "$port"; then
        log "port $port answers, but from a process that is not $PORT_OWNER's: another user holds it; refused"
        return 1
      fi
      log "port $port healthy after $try tries"
      return 0
    fi
    if (( try >= HEALTH_RETRIES )); then
      cat "$BASE/.health-error" "$BASE/.health-answer" > "$BASE/last-failed-health" 2>/dev/null || true
      log "port $port failed its health check $try times; last answer: HTTP ${code:-none}," \
        "$(wc -c < "$BASE/last-failed-health") bytes, kept in $BASE/last-failed-health (root only)"
      return 1
    fi
    try=$((try + 1))
    sleep "$HEALTH_INTERVAL"
  done
)

# The slot a deploy prepared, and with what: "sha settings release runtime", removed once the slot is
# stopped. `active` is the serving slot's colour and record.
record_of() { cat "$BASE/state/$1" 2>/dev/null || true; }
# The record goes only once the slot is stopped: a slot that would not stop is stopped by the next repair.
stop_and_forget() {
  { stop_slot "$1" && stop_other_runtimes "$1" "${2:-}"; } \
    || { log "the $1 slot did not stop; the next deploy stops it"; return 1; }
  rm -f "$BASE/state/$1"
}

# repair: what a deploy killed or failing halfway left is put right before anything else.
repair() {
  local served record leaving
  active=none active_sha=none active_settings=none active_runtime=none
  if [ -f "$BASE/active" ]; then read -r active active_sha active_settings _ active_runtime _ < "$BASE/active"; fi
  # From here the upstream file says where the proxy routes: a switch stopped before its reload is loaded.
  load_marked_upstream || exit 1
  served=$(served_color)
  if [ "$served" != none ] && [ "$served" != "$active" ] && [ -s "$BASE/state/$served" ]; then
    # The proxy routes to a slot `active` does not name: a deploy was stopped after its switch. Back to the
    # committed slot only where it answers and the other does not; otherwise the slot the proxy routes to is
    # the active one (it is what serves, if anything does): the deploy then goes to the other slot, and
    # nothing under the proxy is stopped. (Refusing while neither answered refused the very deploy that
    # would fix them.)
    if [ "$active" != none ] && ! slot_answers "$served" && slot_answers "$active"; then
      log "repair: the proxy routes to the $served slot, which does not answer; back to the $active slot"
      switch_to "$active"
      upstream_loaded
    else
      read -r record < "$BASE/state/$served"
      log "repair: the proxy routes to the $served slot: it is the active one"
      printf '%s %s\n' "$served" "$record" | put "$BASE/active"
      read -r active active_sha active_settings _ active_runtime _ < "$BASE/active"
    fi
  elif [ "$served" != "$active" ] && [ "$active" != none ] && [ "$served" != none ] && slot_listens "$active"; then
    # The proxy routes to a slot nothing started, or to what served before stackyard: an upstream written
    # afresh (a proxy added to the host, or of another kind) points at the blue slot, wherever the service
    # runs. Back to the committed slot, whose instances all listen as the service's (its health is not
    # asked: a probe that failed once, or a service with no health path, would leave the proxy where
    # nothing of the deploy's runs until the next commit, and the deploy would say "already serving").
    log "repair: the proxy routes to the $served slot, which is not the service's; back to the $active slot"
    switch_to "$active"
    upstream_loaded
  fi
  # A slot started beside the active one and never stopped (a deploy stopped halfway) goes, unless the
  # proxy still routes to it. Once the active slot is this runtime's, whatever another runtime still runs
  # goes with it (a stop after the switch away from PM2 would have taken its daemon: "leaving").
  leaving=
  if [ "$active_runtime" = "$RUNTIME" ]; then leaving=leaving; fi
  for color in blue green; do
    if [ "$color" != "$active" ] && [ -e "$BASE/state/$color" ] && [ "$(served_color)" != "$color" ]; then
      log "repair: stopping the $color slot a stopped deploy left running"
      stop_and_forget "$color" $leaving
    fi
  done
}

# The slot's every instance listens as the service's (PORT_OWNER) and nobody else.
slot_listens() {
  local port
  [ "$1" != legacy ] || return 1
  for port in $(ports_of "$1"); do owns_port "$port" || return 1; done
}

# The slot answers its health path on every instance (one quick try each).
slot_answers() {
  local port code
  [ -n "$HEALTH_PATH" ] || return 0
  for port in $(ports_of "$1"); do
    code=$(curl -s -o /dev/null --max-time "$HEALTH_TIMEOUT" -w '%{http_code}' "http://127.0.0.1:$port$HEALTH_PATH") \
      || true
    [[ $code == 2* ]] && owns_port "$port" || return 1
  done
}

# prepare_slot COLOR RELEASE: the slot's own copy of the env file, the files and its process definition.
prepare_slot() {
  local color=$1 slot="$ETC/slots/$1" definition staged
  rm -rf "$slot"
  mkdir -p "$ETC/slots"
  mkdir -m 0750 "$slot"
  chown "root:$ENV_GROUP" "$slot"
  if [ -f "$ENV_FILE" ]; then cp "$ENV_FILE" "$slot/env"; else : > "$slot/env"; fi
  chmod "$ENV_MODE" "$slot/env"
  chown "root:$ENV_GROUP" "$slot/env"
  if [ "$SLOT_FILES" = yes ] && [ -d "$FILES" ]; then
    cp -R --preserve=mode "$FILES" "$slot/files"
    chown -R "root:$ENV_GROUP" "$slot/files"
  fi
  definition=$(definition_of "$color")
  staged="$ETC/staged/${definition##*/}"
  cp "$staged" "$definition.new"
  chmod 0644 "$definition.new"
  mv -f "$definition.new" "$definition"
  link "../releases/${2##*/}" "$BASE/slots/$color"
}

mkdir -p "$BASE/releases" "$BASE/slots" "$BASE/state"
# The lock is root's alone (0600): anyone who may open it may hold it, and stop every deploy. ($BASE is
# root's, so no one else can put a link at its name.)
exec 9>"$BASE/.deploy.lock"
chmod 0600 "$BASE/.deploy.lock"
if ! flock --nonblock 9; then
  log "another deploy of $APP is running on this host; try again when it ends"
  exit 75
fi

repair

# A secret file's write that was killed left its temporary file (root's, 0600, .stackyard.*) beside the
# files: the service's user cannot read it, so copying the files would fail every deploy, and it would
# change their digest. Every write this deploy follows has ended (the deploy runs after them).
if [ -d "$FILES" ]; then find "$FILES" -name '.stackyard.*' -type f -delete; fi

if [[ $REF =~ ^[0-9a-f]{40}$ ]]; then
  sha=$REF
else
  refs=$(git_ ls-remote -- "$REPO" "refs/heads/$REF" "refs/tags/$REF" "refs/tags/$REF^{}")
  # As the preview resolves it (components/git_refs.py): a branch wins over a tag of the same name, and an
  # annotated tag is the commit it tags.
  sha=
  for name in "refs/heads/$REF" "refs/tags/$REF^{}" "refs/tags/$REF"; do
    [ -n "$sha" ] || sha=$(printf '%s\n' "$refs" | awk -F '\t' -v name="$name" '$2 == name { print $1; exit }')
  done
fi
if [ -z "$sha" ]; then
  log "no branch or tag $REF in $REPO"
  exit 1
fi

settings=$(settings_id)
if [ "$active_sha" = "$sha" ] && [ "$active_settings" = "$settings" ] && [ "$RESTART" = no ]; then
  # What a deploy stopped after its commit left undone is finished (each step is a no-op when done).
  retire_service_legacy
  if [ "$(readlink "$BASE/current")" != "releases/$(awk '{print $4}' "$BASE/active")" ] \
      && [ -n "$(awk '{print $4}' "$BASE/active")" ]; then
    link "releases/$(awk '{print $4}' "$BASE/active")" "$BASE/current"
  fi
  promote_watchdog
  log "already serving $sha from the $active slot with these settings"
  exit 0
fi

# A release is built where it will run (tools such as uv write absolute paths into it), by the service
# user except for the clone (the deploy key is root's), and counts as built only once its marker (root's,
# beside it) is written: a build that failed halfway is built again. The service's files are part of it,
# so a changed file makes a new release.
release_id=$sha-$(build_digest)
# A release root builds an image from becomes root's (compose): never the one a slot of the service's own
# processes runs from, which a move between runtimes with the same commit would otherwise share.
if [ "$RELEASE_OWNER" = root ]; then release_id="$release_id-root"; fi
if [ "$RELEASE_FILES" = yes ]; then
  files=$(files_digest)
  if [ "$files" != none ]; then release_id="$release_id-$files"; fi
fi
release="$BASE/releases/$release_id"
if [ ! -f "$release.built" ]; then
  log "building release $release_id"
  rm -rf "$release" "$release.released"
  git_ clone --quiet --no-checkout -- "$REPO" "$release"
  git -C "$release" -c advice.detachedHead=false checkout --quiet "$sha"
  chown -R "$SERVICE_USER:" "$release"
  if [ "$RELEASE_FILES" = yes ] && [ -d "$FILES" ]; then
    # As the service user: the repository may hold links, and they lead nowhere its user cannot write.
    as_user "$SERVICE_USER" cp -R --preserve=mode "$FILES/." "$release/"
  fi
  prepare_release "$release"
  touch "$release.built"
fi
# The release phase, once per release (its marker, root's, beside it), before any process of it starts:
# one that fails stops here, nothing of the new release running, the serving slot untouched.
if [ ${#RELEASE[@]} -gt 0 ] && [ ! -f "$release.released" ]; then
  if ! release_phase "$release"; then
    log "deploy of $sha failed: its release phase failed (above); the $active slot keeps serving $active_sha"
    exit 1
  fi
  touch "$release.released"
fi

if [ "$active" = none ]; then next=blue; else next=$(other "$active"); fi
retire_worker_legacy
# The slot's ports are free before it starts: one held (the other slot's instance, after the service's
# port moved by the slots' distance; anyone's) would answer the new release's health check in its place.
# What of this service still runs in that slot without a record (a watchdog's restart that raced the last
# switch) is stopped first (systemd's units and PM2's slot daemons; not compose's, whose start replaces
# the slot's containers itself). A first deploy killed
# after its switch left the proxy on that slot with nothing active, and its record: it is restarted as it
# always was. (An upstream that only starts there, a renamed service's that its former self's slot
# serves, is no restart: its ports are checked.)
restarting=no
if [ "$active" = none ] && [ "$(served_color)" = "$next" ] && [ -s "$BASE/state/$next" ]; then
  restarting=yes
elif [ "$RUNTIME" != compose ] && ! stop_slot "$next"; then
  log "deploy of $sha failed: what runs in the $next slot would not stop; the $active slot keeps serving $active_sha"
  exit 1
fi
for port in $(ports_of "$next"); do
  if [ "$restarting" = no ] && [ -n "$(listeners "$port" all)" ]; then
    log "deploy of $sha refused: port $port of the $next slot is in use (a service port moved by the slots'" \
      "distance lands on the other slot's ports: move it further); the $active slot keeps serving $active_sha"
    exit 1
  fi
done
printf '%s %s %s %s %s\n' "$sha" "$settings" "$release_id" "$RUNTIME" "$(watched | cut -c1-16)" \
  | put "$BASE/state/$next"
prepare_slot "$next" "$release"
log "starting $sha in the $next slot"
if ! start_slot "$next"; then
  stop_and_forget "$next" || true
  log "deploy of $sha failed: its $next slot did not start; the $active slot keeps serving $active_sha"
  exit 1
fi

if [ -n "$HEALTH_PATH" ]; then
  for port in $(ports_of "$next"); do
    if ! check_health "$port"; then
      stop_and_forget "$next" || true
      log "deploy of $sha failed; the $active slot keeps serving $active_sha"
      exit 1
    fi
  done
fi

# The commit: the proxy routes to the new slot, then `active` names it. Between the two, a repair would
# find the proxy on a slot that answers and adopt it.
if ! switch_to "$next"; then
  stop_and_forget "$next" || true
  log "deploy of $sha failed: the proxy did not take the $next slot; the $active slot keeps serving $active_sha"
  exit 1
fi
printf '%s %s %s %s %s %s\n' "$next" "$sha" "$settings" "$release_id" "$RUNTIME" "$(watched | cut -c1-16)" \
  | put "$BASE/active"
upstream_loaded
log "switched to $sha in the $next slot"
promote_watchdog

# After the commit: nothing here can leave the proxy without a slot.
if [ "$active" != none ]; then stop_and_forget "$active" leaving; fi
retire_service_legacy
if [ "$active_sha" != none ] && [ -n "$active_sha" ]; then printf '%s\n' "$active_sha" | put "$BASE/previous"; fi
link "releases/$release_id" "$BASE/current"

# Keep the newest $KEEP releases, and always the one serving and the one before it.
previous_sha=$(cat "$BASE/previous" 2>/dev/null || true)
find "$BASE/releases" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %f\n' | sort -rn | awk '{print $2}' \
  | tail -n +$((KEEP + 1)) | while read -r old; do
    if [ "$old" != "$release_id" ] && [ "${old%%-*}" != "$previous_sha" ]; then
      rm -f "$BASE/releases/$old.built" "$BASE/releases/$old.released"
      rm -rf "${BASE:?}/releases/$old"
    fi
  done
log "serving $sha from the $next slot"
