# ufw_open_to_all PORT: the rules `ufw show added` lists, other than stackyard's own SSH rules (comment
# stackyard-ssh), that let any address reach TCP port PORT. One a line, tab-separated: "only" when the rule
# opens PORT alone, toward every address of the host (a plain `ufw allow 22/tcp`, `ufw limit 22`,
# `ufw allow OpenSSH`), "more" when it opens other ports too, or PORT toward one address only (an
# operator's rule, which stackyard must not delete), then the words that name the rule to `ufw delete`,
# its action first. A rule on one interface (`in on wg0`) is that interface's, and is not listed.
ufw_open_to_all() {
  local port=$1 listed found kind app words profile
  listed=$(ufw show added) || return 1
  found=$(awk -v port="$port" "$UFW_PORTS_AWK"'
    /^ufw (allow|limit) / && !/ comment '\''stackyard-ssh'\''$/ {
      rule = substr($0, 5); kind = ""
      sub(/ comment '\''.*$/, "", rule)
      # An application name with spaces is quoted (ufw allow '\''WWW Full'\''): one word, held aside.
      app = "-"
      if (match(rule, /'\''[^'\'']*'\''/)) {
        app = substr(rule, RSTART + 1, RLENGTH - 2)
        rule = substr(rule, 1, RSTART - 1) "\001" substr(rule, RSTART + RLENGTH)
      }
      n = split(rule, w, " ")
      i = 2
      if (w[i] == "in" || w[i] == "out") next
      if (w[i] == "log" || w[i] == "log-all") i++
      if (w[i] != "from" && w[i] != "to") {
        # The short form: one port list (22, 22/tcp, 22,80/tcp, 2200:2300/tcp) or one application.
        if (i != n) next
        if (w[i] ~ /^[0-9][0-9,:]*(\/tcp)?$/) { list = w[i]; sub(/\/tcp$/, "", list); kind = reach(list, "any") }
        else if (w[i] ~ /^[0-9][0-9,:]*\//) next
        else { if (w[i] != "\001") app = w[i]; kind = "app" }
      } else {
        from = "any"; to = "any"; list = ""; dapp = ""; proto = "any"
        for (; i <= n; i++) {
          if (w[i] == "from") { from = w[++i]; if (w[i + 1] == "port" || w[i + 1] == "app") i += 2 }
          else if (w[i] == "to") {
            to = w[++i]
            if (w[i + 1] == "port") { list = w[i + 2]; i += 2 }
            else if (w[i + 1] == "app") { dapp = w[i + 2]; i += 2 }
          }
          else if (w[i] == "proto") proto = w[++i]
          else next
        }
        if (from != "any" || (proto != "any" && proto != "tcp")) next
        if (dapp != "") { if (dapp != "\001") app = dapp; kind = to == "any" ? "app" : "app-more" }
        else if (list == "") kind = "more"
        else kind = reach(list, to)
      }
      if (kind == "") next
      out = kind "\t" app
      for (j = 1; j <= n; j++) out = out "\t" (w[j] == "\001" ? app : w[j])
      print out
    }' <<<"$listed") || return 1
  while IFS=$'\t' read -r kind app words; do
    [ -n "$kind" ] || continue
    if [ "$kind" = app ] || [ "$kind" = app-more ]; then
      # An application's ports are its profile's (/etc/ufw/applications.d): OpenSSH's are 22/tcp.
      if ! profile=$(ufw app info "$app" 2>/dev/null); then
        echo "stackyard: ufw has a rule for the application '$app', whose profile it cannot read: SSH may be open" \
          "to any address through it. Delete that rule (ufw show added lists it) and run again" >&2
        return 1
      fi
      kind=$(awk -v port="$port" -v kind="$kind" "$UFW_PORTS_AWK"'
        /^Ports?:$/ { on = 1; next }
        on && NF {
          list = $1; proto = ""
          if (index(list, "/")) { proto = substr(list, index(list, "/") + 1); list = substr(list, 1, index(list, "/") - 1) }
          lines++
          if (proto == "" || proto == "tcp") { found = reach(list, "any"); if (found != "") seen = found }
        }
        END { if (seen == "") print ""; else if (seen == "only" && lines == 1 && kind == "app") print "only"; else print "more" }
      ' <<<"$profile")
      [ -n "$kind" ] || continue
    fi
    printf '%s\t%s\n' "$kind" "$words"
  done <<<"$found"
}

# reach(list, to): "only" when a ufw port list is PORT alone and the rule opens it toward every address
# ("any"), "more" when the list holds PORT otherwise, "" when it does not hold PORT.
UFW_PORTS_AWK='
function reach(list, to,   n, i, item, range) {
  n = split(list, item, ",")
  for (i = 1; i <= n; i++) {
    if (split(item[i], range, ":") == 1) range[2] = range[1]
    if (range[1] + 0 <= port + 0 && port + 0 <= range[2] + 0)
      return (n == 1 && range[1] == range[2] && to == "any") ? "only" : "more"
  }
  return ""
}'
