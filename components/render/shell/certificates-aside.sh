# A certificate set aside for certbot (provision.certificate_script) by a run stopped before certbot was
# done: nothing is where the site reads it, and nginx would refuse every reload, and a start, until it is
# back. The caller holds the certificates lock ($CERTIFICATES_LOCK), so certbot is never at work meanwhile
# (it would then find a live directory it does not own).
restore_set_aside_certificates() {
  local aside
  for aside in "$SET_ASIDE"/*; do
    [ -d "$aside" ] || continue
    [ -e "$CERTS/${aside##*/}" ] || mv "$aside" "$CERTS/${aside##*/}" || return 1
  done
}
