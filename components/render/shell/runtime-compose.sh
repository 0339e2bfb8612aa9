# Slots as compose projects (<name>-<color>), built from the slot's release.
# A container's published port is held by root's docker-proxy (owns_port).
PORT_OWNER=root
# Without Docker's userland proxy nothing listens on a published port: the kernel forwards it to the
# container, ahead of any socket, for as long as a running container publishes it. Otherwise a port
# nothing holds is nobody's: a stopped container's port is free for anyone to take (owns_port).
# Docker's own word for it: a running container of this service's slots publishing host port PORT on
# 127.0.0.1 or every address (`docker ps --filter publish=` would match a container port, of anyone's).
unheld_is_ours() {
  timeout 20 docker ps --filter status=running --filter label=com.docker.compose.project \
    --format '{{.Label "com.docker.compose.project"}} {{.Ports}}' 2>/dev/null \
    | awk -v blue="$APP-blue" -v green="$APP-green" -v port="$1" '
        ($1 == blue || $1 == green) && (index($0, " 127.0.0.1:" port "->") || index($0, ", 127.0.0.1:" port "->") \
          || index($0, " 0.0.0.0:" port "->") || index($0, ", 0.0.0.0:" port "->")) { found = 1 }
        END { exit !found }'
}
# compose COLOR ARGS: docker compose on one slot's project. Its containers get the service's group,
# which reads their mounted files. The definition is stackyard's, and nothing in the release is read as
# compose's own settings: root would otherwise read the release's .env, which its repository or the
# service's user could make a link to a secret (compose quotes a line it cannot parse in its error, into
# the deploy's log), or fill with COMPOSE_* settings of their choosing.
compose() {
  local color=$1 gid
  shift
  gid=$(id -g "$SERVICE_USER")
  STACKYARD_SERVICE_GID=$gid docker compose --project-name "$APP-$color" --env-file /dev/null \
    --project-directory "$BASE/slots/$color" --file "$(definition_of "$color")" "$@"
}
# inside_release COLOR: the slot's release becomes root's, then its build context and Dockerfile must
# resolve inside it. Root builds them, and buildx follows a link at the context's root: a release (its
# repository, or an install step run as the service's user) could otherwise make the context a link to
# /etc/stackyard and build every service's secrets into the image it then runs. Root's first, so that no
# process of that user (one an install step left behind) can swap a link in after the check; nothing
# writes a compose release once it is built (its containers run from the image).
inside_release() {
  local top context dockerfile path
  top=$(realpath -e "$BASE/slots/$1") || return 1
  # Write bits go as the user, while the release is still the user's: chmod follows a link it finds in
  # place of a file it has just looked at, and as root, racing with a process of that user swapping one in,
  # it made a root binary setuid. As the user, a link leads only to what the user could change anyway.
  # Only what is the user's still: a deploy killed during the chown left part of the tree root's, and the
  # user's chmod -R of it failed every deploy after.
  if [ "$(stat -c %u "$top")" != 0 ]; then
    # (From /: find goes back to where it started, and root's home is not the user's to enter.)
    (cd / && as_user "$SERVICE_USER" find "$top" -user "$SERVICE_USER" ! -type l -perm /022 -exec chmod go-w {} +) \
      || return 1
  fi
  # chown -R changes links, never what they lead to, and takes setuid bits away.
  chown -R root:root "$top" || return 1
  # chown -R walks a directory's entries before the directory: what that user made meanwhile, in one it
  # had not reached, is still its own, and what it made writable after its chmod still is. Once nothing
  # is, nothing can change (every directory is root's, written by root alone).
  if [ -n "$(find "$top" \( ! -user root -o ! -type l -perm /022 -o -type f -perm /6000 \) -print -quit)" ]; then
    # Built again from its commit at the next deploy: a deploy killed during the chown leaves such a tree
    # too, and marked built it would be refused at every deploy after.
    rm -f "$top.built"
    log "the $1 slot's release changed while it became root's (a process of $SERVICE_USER at work in it, or" \
      "a deploy killed on the way): it is built again at the next deploy"
    return 1
  fi
  if ! context=$(realpath -e "$top/$BUILD_CONTEXT") || ! dockerfile=$(realpath -e "$context/$DOCKERFILE"); then
    log "the $1 slot's release has no build context $BUILD_CONTEXT with a $DOCKERFILE in it"
    return 1
  fi
  for path in "$context" "$dockerfile"; do
    case $path in
      "$top" | "$top"/*) ;;
      *) log "the $1 slot's build context or Dockerfile leads out of its release, to $path: refused"; return 1 ;;
    esac
  done
}
# --wait: until every container is running and Docker's own health check passes.
start_slot() {
  inside_release "$1" || return 1
  compose "$1" up --detach --build --remove-orphans --wait --wait-timeout "$COMPOSE_WAIT"
}
# A slot never prepared has no project file, and nothing running (compose refuses a file that is not there).
stop_slot() { if [ -f "$(definition_of "$1")" ]; then compose "$1" down --timeout 30; fi; }
# Removal: nothing besides the slots' projects.
forget_runtime() { :; }
# The watchdog's pieces (see runtime-systemd.sh). A hung process (not only a stopped one, which thaw
# wakes) ignores the SIGTERM of a stop: killed after 10 s, not the 30 s grace period of a deploy's stop.
restart_instance() { compose "$1" restart --timeout 10 "$APP-$2"; }
# A container's port is held by docker-proxy: thaw every process of the container instead.
thaw() {
  local container pid
  container=$(compose "$1" ps --quiet "$APP-$2") || return 0
  for pid in $(docker top "$container" -o pid 2>/dev/null | tail -n +2); do
    kill -CONT "$pid" 2>/dev/null || true
  done
}
report_unit() { echo docker.service; }
