# The service's nginx upstream: one file per service, rewritten by a switch, applied by a checked reload
# (graceful: open connections finish on the old workers).
upstream_of() {
  local port
  echo "upstream $UPSTREAM_NAME {"
  for port in $(ports_of "$1"); do echo "    server 127.0.0.1:$port max_fails=0;"; done
  echo "}"
}
reload_proxy() { nginx -t -q || return 1; systemctl reload nginx; }
