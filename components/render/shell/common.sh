ports_of() { if [ "$1" = blue ]; then echo "${BLUE_PORTS[*]}"; else echo "${GREEN_PORTS[*]}"; fi; }
other() { if [ "$1" = blue ]; then echo green; else echo blue; fi; }
# Replaces PATH by a symlink to TARGET in one rename: never a moment without it.
link() { ln -sfn "$1" "$2.new" && mv -T "$2.new" "$2"; }
# Writes stdin to PATH in one rename.
put() { cat > "$1.new" && mv -f "$1.new" "$1"; }
# Wakes whatever holds PORT (kill -CONT): a frozen process cannot take a restart's stop signal.
thaw_port_holder() {
  local pid
  for pid in $(ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    kill -CONT "$pid" 2>/dev/null || true
  done
}
