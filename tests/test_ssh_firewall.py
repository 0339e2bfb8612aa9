"""ufw's SSH rules follow access.sshAllowFrom (components/render/provision.py ssh_firewall): open to the
networks it names and closed to others, across changes of the list, and never closed to a network that
keeps its place while the rules change. A stub `ufw` keeps the rules as `ufw show added` lists them (the
real ufw's listing is checked on the e2e host, test_01_serving)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from components.render.provision import ssh_firewall

UFW_STUB = r"""#!/usr/bin/env bash
# Rules as `ufw show added` prints them, one a line; every change is checked against $WATCH: a network
# that is to keep SSH must never be without a rule, between two commands either.
rules=$UFW_RULES
touch "$rules"
spec=$*
case "$1" in
  show) echo "Added user rules (see 'ufw status' for running firewall):"; cat "$rules"; exit 0 ;;
  allow)
    # As ufw writes a rule back: a single address without its /32 or /128.
    spec=$(sed -E 's#^(allow from [0-9.]+)/32 #\1 #; s#^(allow from [0-9a-f:]+)/128 #\1 #' <<<"$spec")
    line="ufw $spec"
    line=${line% comment stackyard-ssh}
    [ "$line" = "ufw $spec" ] || line="$line comment 'stackyard-ssh'"
    grep -qxF "$line" "$rules" || echo "$line" >> "$rules" ;;
  delete)
    shift
    pattern="ufw $*"
    if ! grep -q "^$(printf '%s' "$pattern" | sed 's/[][\.*^$/]/\\&/g')\( comment .*\)\?$" "$rules"; then
      echo "Could not delete non-existent rule" >&2; exit 1
    fi
    grep -v "^$(printf '%s' "$pattern" | sed 's/[][\.*^$/]/\\&/g')\( comment .*\)\?$" "$rules" > "$rules.new" || true
    mv "$rules.new" "$rules" ;;
esac
for net in $WATCH; do
  grep -q "^ufw allow \(22/tcp\|from $net to any port 22 proto tcp\)" "$rules" \
    || echo "SSH closed to $net after: ufw $spec" >> "$UFW_VIOLATIONS"
done
"""


def apply(tmp: Path, nets: list[str], keeping: list[str]) -> list[str]:
    """Runs the rendered rules for ``nets``; returns the rules after, and fails on any moment a network of
    ``keeping`` had no way in."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "ufw"
    stub.write_text(UFW_STUB)
    stub.chmod(0o755)
    violations = tmp / "violations"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "UFW_RULES": str(tmp / "rules"), "UFW_VIOLATIONS": str(violations),
           "WATCH": " ".join(sorted(as_ufw_lists(keeping)))}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", ssh_firewall(22, nets)], env=env, capture_output=True,
                          text=True)
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
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", ssh_firewall(22, ["203.0.113.0/24"])],
                          env={"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "UFW_RULES": str(tmp_path / "rules"),
                               "UFW_VIOLATIONS": str(tmp_path / "violations"), "WATCH": ""},
                          capture_output=True, text=True)
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
