# stackyard-claim: which resources of the stack hold a service or an accessory on this host, so that the
# delete of one of them (a system or host renamed: Pulumi creates the new name's resource first and deletes
# the old one last) never stops what the other still holds.
#
#   stackyard-claim add KIND NAME CLAIM         CLAIM holds KIND/NAME (idempotent)
#   stackyard-claim reset KIND NAME CLAIM       CLAIM is the only one holding it (a resource renamed in place)
#   stackyard-claim release KIND NAME CLAIM [COMMAND...]
#                                               CLAIM lets go; COMMAND runs only if nothing else holds it
set -euo pipefail
usage() { echo "usage: stackyard-claim add|reset|release KIND NAME CLAIM [COMMAND...]" >&2; exit 2; }
[ $# -ge 4 ] || usage
action=$1 kind=$2 name=$3 claim=$4
shift 4
for part in "$kind" "$name" "$claim"; do
  [[ $part =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || usage
done
claims="${STACKYARD_ROOT:-}/var/lib/stackyard/claims/$kind/$name"
mkdir -p -- "$claims"
case $action in
  add) : > "$claims/$claim" ;;
  reset) find "$claims" -mindepth 1 -maxdepth 1 -delete; : > "$claims/$claim" ;;
  release)
    rm -f -- "$claims/$claim"
    others=$(find "$claims" -mindepth 1 -maxdepth 1 -printf '%f ')
    if [ -n "$others" ]; then
      echo "stackyard: $kind $name is kept: still held by ${others% }"
      exit 0
    fi
    if [ $# -gt 0 ]; then "$@"; fi ;;
  *) usage ;;
esac
