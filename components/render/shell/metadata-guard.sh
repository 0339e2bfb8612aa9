# stackyard-metadata-guard: only root may ask the cloud's metadata service (169.254.169.254), which holds
# the server's user data, its host key's private half among it. Every other user is refused, and so is
# every container (forwarded traffic). Run at boot by stackyard-metadata-guard.service; safe to run again.
set -euo pipefail
for rule in "OUTPUT -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT" "FORWARD -d 169.254.169.254 -j REJECT"; do
  # shellcheck disable=SC2086
  if ! iptables -C $rule 2>/dev/null; then iptables -I $rule; fi
done
