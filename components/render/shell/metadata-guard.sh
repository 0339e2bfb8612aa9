# stackyard-metadata-guard: only root may ask the cloud's metadata service (169.254.169.254), which holds
# the server's user data, its host key's private half among it. Every other user is refused, and so is
# every container. Run at boot before the network is up (before any service or container starts), and
# by the base step; safe to run again.
#
# Containers' traffic is forwarded, and Docker puts its own rules first in FORWARD: before 28 it inserts
# a network's "accept what leaves the bridge" at the top, from 28 it moves its jumps to the top on every
# start. A rule of ours in FORWARD would end up below them. DOCKER-USER is the chain Docker evaluates
# before its own and leaves as it finds it, across its restarts, whether it or we created it; the rule
# goes there, and into FORWARD too for a host that has no Docker.
#
# `off` takes the rules out again (a host whose metadataGuard is false): every copy of each, so a guard run
# twice by a race leaves nothing behind.
set -euo pipefail
# ensure CHAIN RULE...: the rule in the chain, at its top when it is not there yet.
ensure() {
  local chain=$1
  shift
  iptables -C "$chain" "$@" 2>/dev/null || iptables -I "$chain" "$@"
}
# drop CHAIN RULE...: no copy of the rule left in the chain.
drop() {
  local chain=$1
  shift
  while iptables -C "$chain" "$@" 2>/dev/null; do iptables -D "$chain" "$@"; done
}
action=ensure
if [ "${1-}" = off ]; then
  action=drop
else
  iptables -N DOCKER-USER 2>/dev/null || true
fi
# HTTP only, the metadata service's one port: some clouds (Google's, Oracle's) answer DNS and NTP at the
# same address, and refusing those to every user but root would cut the host off from names and time.
$action OUTPUT -d 169.254.169.254 -p tcp --dport 80 -m owner ! --uid-owner 0 -j REJECT
$action DOCKER-USER -d 169.254.169.254 -p tcp --dport 80 -j REJECT
$action FORWARD -d 169.254.169.254 -p tcp --dport 80 -j REJECT
# An earlier guard's rules refused every protocol: they go once the rules above are in place.
drop OUTPUT -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT
drop DOCKER-USER -d 169.254.169.254 -j REJECT
drop FORWARD -d 169.254.169.254 -j REJECT
