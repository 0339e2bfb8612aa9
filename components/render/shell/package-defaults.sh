# What a package installed and nobody changed since is the package's, not the operator's: stackyard may
# turn it off or replace it. Anything else serves something of the operator's, left to proxy.replaces.

# package_own FILE PACKAGE...: FILE is a regular file as PACKAGE installed it (the md5 dpkg keeps of that
# conffile).
package_own() {
  local file=$1 sum
  shift
  [ -f "$file" ] && [ ! -L "$file" ] || return 1
  sum=$(dpkg-query -W -f='${Conffiles}\n' "$@" 2>/dev/null | awk -v file="$file" '$1 == file { print $2; exit }')
  [ -n "$sum" ] && [ "$(md5sum < "$file" | cut -d' ' -f1)" = "$sum" ]
}

# debian_default_site: sites-enabled/default is Debian's own default site, and what it serves is the
# package's own page: /var/www/html holds nothing else (an index.html there is the operator's site; the
# trailing / follows it where it is a link).
debian_default_site() {
  local file=/etc/nginx/sites-available/default
  [ "$(readlink -f /etc/nginx/sites-enabled/default)" = "$file" ] || return 1
  package_own "$file" nginx-common nginx || return 1
  [ -z "$(find /var/www/html/ -mindepth 1 -maxdepth 1 ! -name index.nginx-debian.html -print -quit 2>/dev/null)" ]
}

# caddy_own_caddyfile: /etc/caddy/Caddyfile is the caddy package's own (its welcome page on :80).
caddy_own_caddyfile() { package_own /etc/caddy/Caddyfile caddy; }
