# debian_default_site: sites-enabled/default is Debian's own default site as its package installed it (the
# md5 dpkg keeps of that conffile): stackyard turns it off. Anything else there serves something of the
# operator's (a WordPress, a static site), which it leaves to proxy.replaces.
debian_default_site() {
  local file=/etc/nginx/sites-available/default sum
  [ "$(readlink -f /etc/nginx/sites-enabled/default)" = "$file" ] || return 1
  sum=$(dpkg-query -W -f='${Conffiles}\n' nginx-common nginx 2>/dev/null \
    | awk -v file="$file" '$1 == file { print $2; exit }')
  [ -n "$sum" ] && [ "$(md5sum < "$file" | cut -d' ' -f1)" = "$sum" ]
}
