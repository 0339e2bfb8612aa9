# stackyard-claim: which resources of the stack hold a service or an accessory on this host, so that the
# delete of one of them (a system or host renamed: Pulumi creates the new name's resource first and deletes
# the old one last) never stops what the other still holds.
#
#   stackyard-claim add KIND NAME CLAIM         CLAIM holds KIND/NAME (idempotent)
#   stackyard-claim move KIND NAME CLAIM [FORMER...]
#                                               CLAIM holds it, and the FORMER claims of the same resource
#                                               (its names before a rename with `formerly`) no longer do
#   stackyard-claim release KIND NAME CLAIM [COMMAND...]
#                                               CLAIM lets go; COMMAND runs only if nothing else holds it
#
# A move adds before it takes away, and takes away only the resource's own former names: never a claim of
# another resource (the old name's, still in the state after a rename without `formerly` was cut short,
# whose delete comes last and must find the new one holding).
set -euo pipefail
usage() { echo "usage: stackyard-claim add|move|release KIND NAME CLAIM [COMMAND...|FORMER...]" >&2; exit 2; }
[ $# -ge 4 ] || usage
action=$1 kind=$2 name=$3 claim=$4
shift 4
valid() { [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]]; }
for part in "$kind" "$name" "$claim"; do
  valid "$part" || usage
done
claims="${STACKYARD_ROOT:-}/var/lib/stackyard/claims/$kind/$name"
mkdir -p -- "$claims"
case $action in
  add) : > "$claims/$claim" ;;
  move)
    : > "$claims/$claim"
    for former in "$@"; do
      valid "$former" || usage
      [ "$former" = "$claim" ] || rm -f -- "$claims/$former"
    done ;;
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
