# The service's Caddy upstream: a snippet the Caddyfile imports, applied by a graceful reload.
upstream_of() {
  local port
  printf 'reverse_proxy'
  for port in $(ports_of "$1"); do printf ' 127.0.0.1:%s' "$port"; done
  echo
}
reload_proxy() { systemctl reload caddy; }
