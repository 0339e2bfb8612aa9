"""Directories root writes in or serves from, checked on the host before it does.

The model refuses such paths near what a service writes by name (components/model/host_paths.py);
a name cannot tell what the host has made of it: ``/var/lock`` is a link to a directory everyone
writes, and a legacy checkout may be someone's. So the scripts that write backups or serve a static
root first walk the path on the host: it and every directory above it that exists must be root's,
no link, and written by root alone. Above it a sticky directory (``/tmp``) is fine: no one else may
move what root owns there.
"""

from __future__ import annotations

from collections.abc import Iterable

from .quoting import sh

ROOT_ONLY = """# root_only PATH: PATH (if it exists) and every directory above it are root's, no links, and written
# by root alone (above PATH, a sticky one is fine); otherwise says which is not, and fails.
root_only() {
  local at=$1 mode
  while :; do
    if [ -e "$at" ] || [ -L "$at" ]; then
      mode=$(stat -c %a -- "$at")
      if [ -L "$at" ] || [ ! -d "$at" ] || [ "$(stat -c %u -- "$at")" != 0 ] \\
          || { (( 8#$mode & 8#022 )) && { [ "$at" = "$1" ] || (( !(8#$mode & 8#1000) )); }; }; then
        echo "$at is a link, not a directory, not root's, or written by others than root" >&2
        return 1
      fi
    fi
    [ "$at" = / ] && return 0
    at=${at%/*}  # the model's paths are absolute, with no '/' at the end
    at=${at:-/}
  done
}
"""


LINKS_LEAVE = """# links_leave ROOT: a link in ROOT leads out of it (resolved to its end, existing or not). What a link
# leads to is served as if it were in ROOT, and only ROOT is checked: root's own link into a directory a
# service writes would let that service put anything there, a link to the proxy's keys among it.
links_leave() {
  local top link target
  top=$(realpath -e -- "$1") || return 1
  while IFS= read -r -d '' link; do
    target=$(realpath -m -- "$link")
    case $target in
      "$top" | "$top"/*) ;;
      *) echo "$link leads out of $1, to $target" >&2; return 0 ;;
    esac
  done < <(find "$1" -mindepth 1 -type l -print0)
  return 1
}
"""


def static_roots_check(roots: Iterable[str]) -> str:
    """Shell lines that fail before the proxy is touched if a static root, or anything in it, could be
    changed by someone other than root, or a link in it leads out of it: the proxy follows links in what
    it serves (Caddy always)."""
    lines = []
    for root in sorted(set(roots)):
        message = (f"stackyard: the static root {root}, what is in it and the directories above it must be "
                   "written by root alone, and no link in it may lead out of it: nothing was changed")
        lines.append(
            f"if ! root_only {sh(root)} || {{ [ -d {sh(root)} ] && [ -n \"$(find {sh(root)} -mindepth 1 "
            f"\\( ! -user root -o \\( ! -type l -perm /022 \\) \\) -print -quit)\" ]; }} \\\n"
            f"    || {{ [ -d {sh(root)} ] && links_leave {sh(root)}; }}; then\n"
            f"  echo {sh(message)} >&2\n  exit 1\nfi\n")
    return (ROOT_ONLY + LINKS_LEAVE + "".join(lines)) if lines else ""
