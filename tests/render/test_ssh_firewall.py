"""ufw's SSH rules follow access.sshAllowFrom (components/render/provision.py ssh_firewall): open to the
networks it names and closed to others, across changes of the list, and never closed to a network that
keeps its place while the rules change. A stub `ufw` keeps the rules as `ufw show added` lists them (the
real ufw's listing is checked on the e2e host, test_01_serving)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from components.render.provision import UFW_DEFAULTS, UFW_SSH, base_script, ssh_firewall, ssh_firewall_open

UFW_STUB = r"""#!/usr/bin/env bash
# Rules as `ufw show added` prints them, one a line; every change is checked against $WATCH: a network
# that is to keep SSH must never be without a rule, between two commands either.
rules=$UFW_RULES
touch "$rules"
# The words as ufw lists them: an application's name with spaces in quotes.
words=()
for word in "$@"; do
  [[ $word == *" "* ]] && word="'$word'"
  words+=("$word")
done
spec=${words[*]}
case "$1" in
  show) echo "Added user rules (see 'ufw status' for running firewall):"; cat "$rules"; exit 0 ;;
  default|--force) exit 0 ;;
  app)
    # `ufw app info NAME`: a few of /etc/ufw/applications.d's profiles.
    case $3 in
      OpenSSH) ports=22/tcp ;;
      "WWW Full") ports=80,443/tcp ;;
      "SSH Plus") ports=22,2222/tcp ;;
      *) echo "ERROR: Could not find profile '$3'" >&2; exit 1 ;;
    esac
    printf 'Profile: %s\nTitle: t\nDescription: d\n\nPort%s:\n  %s\n' "$3" "$([[ $ports == *,* ]] && echo s)" "$ports"
    exit 0 ;;
  allow|limit)
    # As ufw writes a rule back: a single address without its /32 or /128.
    spec=$(sed -E 's#^(allow from [0-9.]+)/32 #\1 #; s#^(allow from [0-9a-f:]+)/128 #\1 #' <<<"$spec")
    if [[ $spec == *" from "*:* ]] && [ "${UFW_IPV6:-yes}" != yes ]; then
      echo "ERROR: IPv6 support not enabled" >&2; exit 1
    fi
    line="ufw $spec"
    line=${line% comment stackyard-ssh}
    [ "$line" = "ufw $spec" ] || line="$line comment 'stackyard-ssh'"
    # A rule that differs only in its action or comment is updated: `ufw allow 22/tcp` replaces `limit 22/tcp`.
    awk -v rule="${spec#* }" '{ r = $0; sub(/^ufw [a-z]+ /, "", r); sub(/ comment .*$/, "", r)
                                 s = rule; sub(/ comment .*$/, "", s); if (r != s) print }' "$rules" > "$rules.new"
    mv "$rules.new" "$rules"
    echo "$line" >> "$rules" ;;
  delete)
    shift
    pattern="ufw ${spec#delete }"
    if ! grep -q "^$(printf '%s' "$pattern" | sed 's/[][\.*^$/]/\\&/g')\( comment .*\)\?$" "$rules"; then
      echo "Could not delete non-existent rule" >&2; exit 1
    fi
    grep -v "^$(printf '%s' "$pattern" | sed 's/[][\.*^$/]/\\&/g')\( comment .*\)\?$" "$rules" > "$rules.new" || true
    mv "$rules.new" "$rules" ;;
  *) echo "stub ufw: $spec not known" >&2; exit 1 ;;
esac
for net in $WATCH; do
  grep -q "^ufw \(allow\|limit\) \(22/tcp\|from $net to any port 22 proto tcp\)" "$rules" \
    || echo "SSH closed to $net after: ufw $spec" >> "$UFW_VIOLATIONS"
done
"""


def run(tmp: Path, script: str, keeping: list[str] = (), ipv6: str = "yes") -> subprocess.CompletedProcess:
    """Runs ``script`` against the stub ufw, its settings (/etc/default/ufw) saying IPV6=``ipv6``."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "ufw"
    if not stub.exists():
        stub.write_text(UFW_STUB)
    stub.chmod(0o755)
    (tmp / "default-ufw").write_text(f'# /etc/default/ufw\nIPV6={ipv6}\nDEFAULT_INPUT_POLICY="DROP"\n')
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "UFW_RULES": str(tmp / "rules"),
           "UFW_VIOLATIONS": str(tmp / "violations"), "WATCH": " ".join(sorted(as_ufw_lists(keeping))),
           "UFW_IPV6": ipv6.splitlines()[-1].split("=")[-1].strip("\"'").lower()}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script.replace(UFW_DEFAULTS, str(tmp / "default-ufw"))],
                          env=env, capture_output=True, text=True)


def apply(tmp: Path, nets: list[str], keeping: list[str], port: int = 22) -> list[str]:
    """Runs the rendered rules for ``nets``; returns the rules after, and fails on any moment a network of
    ``keeping`` had no way in."""
    violations = tmp / "violations"
    done = run(tmp, ssh_firewall(port, nets), keeping)
    assert done.returncode == 0, done.stderr
    assert not violations.exists(), violations.read_text()
    return [line for line in (tmp / "rules").read_text().splitlines() if line]


NETWORKS = ["203.0.113.0/24", "198.51.100.7/32", "10.0.0.0/8", "2001:db8::/32", "192.0.2.0/28", "198.51.100.9",
            "2001:db8::5/128", "2001:db8:1::7"]
ANYWHERE = ["0.0.0.0/0", "::/0"]


def opened(rules: list[str]) -> set[str]:
    return {"anywhere" if rule == "ufw allow 22/tcp" else rule.split()[3] for rule in rules}


def as_ufw_lists(nets: list[str]) -> set[str]:
    return {n.removesuffix("/32") if "." in n else n.removesuffix("/128") for n in nets}


def test_a_host_open_to_all_then_narrowed_then_open_again(tmp_path: Path) -> None:
    assert opened(apply(tmp_path, ANYWHERE, [])) == {"anywhere"}
    assert opened(apply(tmp_path, ["203.0.113.0/24"], [])) == {"203.0.113.0/24"}
    assert opened(apply(tmp_path, ["203.0.113.0/24", "2001:db8::/32"], ["203.0.113.0/24"])) == {
        "203.0.113.0/24", "2001:db8::/32"}
    assert opened(apply(tmp_path, ANYWHERE, [])) == {"anywhere"}


def test_a_network_written_with_host_bits_is_kept_as_ufw_writes_it(tmp_path: Path) -> None:
    """ufw keeps 203.0.113.9/24 as 203.0.113.0/24: read back unnormalised, the rule just made looked
    unwanted and went, and SSH was closed."""
    assert opened(apply(tmp_path, ["203.0.113.9/24"], [])) == {"203.0.113.0/24"}
    assert opened(apply(tmp_path, ["203.0.113.9/24"], ["203.0.113.0/24"])) == {"203.0.113.0/24"}


@pytest.mark.parametrize("seed", range(12))
def test_any_sequence_of_lists_ends_with_exactly_that_list_and_never_closes_a_kept_one(tmp_path: Path,
                                                                                      seed: int) -> None:
    rng = random.Random(seed)
    current: list[str] = ANYWHERE
    apply(tmp_path, current, [])
    for _ in range(6):
        wanted = ANYWHERE if rng.random() < 0.2 else rng.sample(NETWORKS, rng.randint(1, 3))
        # What SSH was open to before and is after: open all the way through.
        kept = ([] if current == wanted == ANYWHERE else wanted if current == ANYWHERE
                else current if wanted == ANYWHERE else [n for n in wanted if n in current])
        expected = {"anywhere"} if wanted == ANYWHERE else as_ufw_lists(wanted)
        assert opened(apply(tmp_path, wanted, kept)) == expected, (current, wanted)
        current = wanted


@pytest.mark.parametrize("nets", [["198.51.100.7/32"], ["198.51.100.7"], ["2001:db8::5/128", "203.0.113.0/24"]])
def test_a_single_address_is_kept_as_ufw_writes_it(tmp_path: Path, nets: list[str]) -> None:
    """ufw writes 198.51.100.7/32 back as 198.51.100.7: compared as written, the rule just made looked
    unwanted and went, and nothing let SSH in (found by review with the real ufw's own rule code)."""
    assert opened(apply(tmp_path, nets, [])) == as_ufw_lists(nets)
    assert opened(apply(tmp_path, nets, nets)) == as_ufw_lists(nets)


@pytest.mark.parametrize("nets", [["0.0.0.0/0"], ["::/0"], ["::/0", "203.0.113.0/24"]])
def test_all_of_one_family_opens_ssh_to_all(tmp_path: Path, nets: list[str]) -> None:
    """ufw lists a rule from 0.0.0.0/0 as the port's plain one, which the narrowing then deleted."""
    apply(tmp_path, ["203.0.113.0/24"], [])
    assert opened(apply(tmp_path, nets, [])) == {"anywhere"}


def test_a_rule_ufw_lists_in_another_form_stops_the_run_before_anything_goes(tmp_path: Path) -> None:
    """The guard: every rule added is listed as expected before any SSH rule is removed."""
    apply(tmp_path, ANYWHERE, [])
    stub = tmp_path / "bin" / "ufw"
    stub.write_text(UFW_STUB.replace('line="$line comment', 'line="$line comment-renamed'))
    done = run(tmp_path, ssh_firewall(22, ["203.0.113.0/24"]))
    assert done.returncode == 1 and "no SSH rule was removed" in done.stderr
    assert "ufw allow 22/tcp" in (tmp_path / "rules").read_text().splitlines()


def test_every_ipv6_network_the_stack_file_takes_is_written_by_ufw_as_stackyard_writes_it() -> None:
    """ufw keeps an address as inet_ntop writes it, which spells an IPv4-mapped or IPv4-compatible IPv6
    address with a dotted quad (::ffff:198.51.100.0): compared with Python's ::ffff:c633:6400, the rule just
    added looked missing and every `up` stopped at the guard. Generated networks around those ranges: each
    is refused by its kind (write the IPv4 network), or ufw and stackyard write it alike."""
    import ipaddress
    import socket

    from components.model import formats
    from components.render.provision import ufw_network

    rng = random.Random(7)
    bases = [0, 1, 0xFFFF, 0x10000, 0xFFFF_FFFF, 0xFFFF << 32, (0xFFFF << 32) | 0xC633_6400, 0x1_0000_0000,
             0x0064_FF9B << 96, 0x2001_0DB8 << 96]
    refused, different = 0, []
    for _ in range(3000):
        address = (rng.choice(bases) + rng.choice([0, 0, rng.randrange(1 << 16), rng.randrange(1 << 32)])) % (1 << 128)
        prefix = rng.choice([128, 128, 120, 112, 96, 95, 64, rng.randrange(129)])
        network = ipaddress.IPv6Network((address, prefix), strict=False)
        if formats.cidr(str(network)) is not None:
            refused += 1
            assert "write the IPv4 network" in formats.cidr(str(network)), network
            continue
        written = socket.inet_ntop(socket.AF_INET6, network.network_address.packed)
        expected = written if prefix == 128 else f"{written}/{prefix}"
        if ufw_network(network) != expected:
            different.append((str(network), expected))
    assert different == []
    assert refused > 100


# Rules an operator (or an earlier run) may have, as `ufw show added` lists them. Each opens SSH (22) alone
# to every address: a restricted list must take them away, or SSH stays open to all.
OPEN_TO_ALL = ["ufw allow 22/tcp", "ufw allow 22", "ufw limit 22/tcp", "ufw limit 22", "ufw allow OpenSSH",
               "ufw limit OpenSSH", "ufw allow log 22/tcp", "ufw allow 22/tcp comment 'ops: ssh'",
               "ufw allow from any port 1024:65535 to any port 22 proto tcp"]
# Each lets any address reach SSH, and more (other ports, or one address of the host only): not stackyard's to
# delete, the run stops naming it.
OPEN_WITH_MORE = ["ufw allow 22,80/tcp", "ufw allow 20:30/tcp", "ufw allow to any", "ufw allow 'SSH Plus'",
                  "ufw allow to 203.0.113.5 port 22", "ufw allow to 203.0.113.5 app OpenSSH",
                  "ufw allow to any proto tcp", "ufw allow from any port 53"]
# None lets any address reach SSH over TCP: they stay as they are.
UNRELATED = ["ufw allow 80/tcp", "ufw allow 22/udp", "ufw allow in on wg0 to any port 22", "ufw deny 22/tcp",
             "ufw allow from 10.0.0.0/8 to any port 22 proto tcp", "ufw allow out 22/tcp", "ufw allow 'WWW Full'",
             "ufw allow 2222/tcp", "ufw reject 22", "ufw allow 8022/tcp comment 'allow 22/tcp'",
             "ufw allow from 192.0.2.0/24 to any app OpenSSH"]


def tagged(rules: list[str]) -> set[str]:
    return {rule.split()[3] for rule in rules if rule.endswith("'stackyard-ssh'")}


@pytest.mark.parametrize("seed", range(10))
def test_a_restricted_list_deletes_every_rule_that_opens_ssh_to_all(tmp_path: Path, seed: int) -> None:
    """An operator's `ufw allow OpenSSH` (or `allow 22`, `limit 22/tcp`...) stayed, and with it SSH open to
    the world whatever access.sshAllowFrom said; only the exact `allow 22/tcp` went (found by review with the
    real ufw's code)."""
    rng = random.Random(seed)
    theirs = rng.sample(OPEN_TO_ALL, rng.randint(1, 4))
    others = rng.sample(UNRELATED, rng.randint(0, 4))
    (tmp_path / "rules").write_text("".join(f"{rule}\n" for rule in rng.sample(theirs + others, len(theirs + others))))
    nets = rng.sample(NETWORKS, rng.randint(1, 3))
    rules = apply(tmp_path, nets, [])
    assert not set(rules) & set(OPEN_TO_ALL), rules
    assert set(others) <= set(rules) and tagged(rules) == as_ufw_lists(nets)
    assert set(rules) == set(others) | {rule for rule in rules if rule.endswith("'stackyard-ssh'")}


@pytest.mark.parametrize("rule", OPEN_WITH_MORE)
def test_a_rule_that_opens_ssh_to_all_among_more_stops_the_run_naming_it(tmp_path: Path, rule: str) -> None:
    (tmp_path / "rules").write_text(f"ufw allow OpenSSH\n{rule}\n")
    done = run(tmp_path, ssh_firewall(22, ["203.0.113.0/24"]))
    assert done.returncode == 1 and "lets any address reach SSH (port 22)" in done.stderr, done.stderr
    assert f"'{rule.removeprefix('ufw ').replace(chr(39), '')}'" in done.stderr
    rules = (tmp_path / "rules").read_text().splitlines()
    assert rule in rules and tagged(rules) == {"203.0.113.0/24"}


@pytest.mark.parametrize("limit", ["ufw limit 22/tcp", "ufw limit 22", "ufw limit OpenSSH"])
def test_open_to_all_leaves_an_operators_rate_limited_rule(tmp_path: Path, limit: str) -> None:
    """`ufw allow 22/tcp` replaces an operator's `ufw limit 22/tcp`: SSH stayed open, without its rate limit."""
    (tmp_path / "rules").write_text(f"{limit}\nufw allow from 203.0.113.0/24 to any port 22 proto tcp comment "
                                    "'stackyard-ssh'\n")
    assert apply(tmp_path, ANYWHERE, []) == [limit]
    assert apply(tmp_path, ANYWHERE, []) == [limit]


def base_stubs(tmp: Path) -> None:
    """apt-get and cloud-init, for base_script's first part: nothing to install, nothing to wait for."""
    stubs = tmp / "bin"
    stubs.mkdir()
    for name in ("apt-get", "cloud-init"):
        (stubs / name).write_text("#!/bin/sh\nexit 0\n")
        (stubs / name).chmod(0o755)


def test_a_port_change_opens_the_new_port_before_sshd_moves_and_closes_the_old_one_after(tmp_path: Path) -> None:
    """sshd moved to the new port before ufw opened it: a run stopped between (killed, or a rule ufw refused)
    left sshd where ufw let nobody in. Run up to sshd's move, the script has opened the new port, closed
    nothing, and sshd's move comes only then; the closing comes after sshd listens on the new port."""
    nets = ["203.0.113.0/24", "2001:db8::/32"]
    (tmp_path / "rules").write_text("".join(f"ufw allow from {net} to any port 22 proto tcp comment 'stackyard-ssh'\n"
                                            for net in nets) + "ufw allow 22/tcp\n")
    script = base_script(ssh_port=2222, ufw=True, login_user="deploy", ssh_allow_from=nets,
                         open_ports=(80, 443, 8080))
    before_sshd, sshd_on = script.split("install -d -m 0755 /etc/ssh/sshd_config.d\n", 1)
    base_stubs(tmp_path)
    done = run(tmp_path, before_sshd, keeping=nets)
    assert done.returncode == 0, done.stderr
    rules = (tmp_path / "rules").read_text().splitlines()
    for net in nets:
        assert f"ufw allow from {net} to any port 2222 proto tcp comment 'stackyard-ssh'" in rules
        assert f"ufw allow from {net} to any port 22 proto tcp comment 'stackyard-ssh'" in rules
    assert "ufw allow 22/tcp" in rules and "ufw allow 8080/tcp" in rules
    moved = sshd_on.index("systemctl restart ssh.socket\nfi\n")
    assert "ufw delete" not in sshd_on[:moved] and "ufw_open_to_all 2222" not in sshd_on[:moved]
    assert sshd_on.index("found=$(ufw_open_to_all 2222)") > moved and sshd_on.index("keep=") > moved
    assert sshd_on.index("ufw --force enable") > moved


def test_ipv6_networks_where_ufws_ipv6_is_off_stop_the_run_before_sshd_and_any_rule(tmp_path: Path) -> None:
    """With IPV6=no in /etc/default/ufw, ufw refuses an IPv6 rule: the run must stop before sshd moves, and
    say why."""
    base_stubs(tmp_path)
    script = base_script(ssh_port=2222, ufw=True, login_user="deploy",
                         ssh_allow_from=["203.0.113.0/24", "2001:db8::/32"])
    done = run(tmp_path, script.split("install -d -m 0755 /etc/ssh/sshd_config.d\n", 1)[0], ipv6="no")
    assert done.returncode == 1, done.stderr
    assert "access.sshAllowFrom names IPv6 networks (2001:db8::/32)" in done.stderr
    # ufw was not called at all, not even for its default policy: an active ufw letting all in would
    # have shut SSH with no rule for it yet, while the message says nothing changed (round 22).
    assert not (tmp_path / "rules").exists()
    # ufw's own reading: the last IPV6= line, quotes and case aside.
    for setting, refused in (('"yes"', False), ("YES", False), ("no\nIPV6=yes", False), ("yes\nIPV6=no", True)):
        (tmp_path / "rules").unlink(missing_ok=True)
        done = run(tmp_path, UFW_SSH + ssh_firewall_open(22, ["2001:db8::/32"]), ipv6=setting)
        assert (done.returncode == 1) == refused, (setting, done.stderr)
