"""Rules for DNS: zones and records, and which host a hostname's records point at."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from .. import formats
from ..topology import CreatedHost, DnsRecord, ExistingHost, System
from .addresses import fqdn, has_ipv6, ip_text
from .findings import Findings


def check_dns(rules: Findings, path: str, system: System) -> None:
    dns = system.dns
    if dns is None:
        return
    zones = dns.zones or {}
    for zone in zones:
        message = formats.hostname(zone)
        if message:
            rules.fail(f"{path}.dns.zones.{zone}", f"zone name {message}")
    names: dict[str, list[tuple[int, DnsRecord]]] = defaultdict(list)
    for i, record in enumerate(dns.records or ()):
        rpath = f"{path}.dns.records[{i}]"
        if record is None:
            continue
        if record.zone is not None and record.zone not in zones:
            rules.fail(f"{rpath}.zone", f"unknown zone '{record.zone}' (dns.zones: {', '.join(zones) or 'none'})")
        check_record(rules, rpath, system, record)
        if name := fqdn(record):
            names[name].append((i, record))
    for name, entries in names.items():
        types = [r.type for _, r in entries]
        for i, record in entries[1:]:
            rpath = f"{path}.dns.records[{i}]"
            if "CNAME" in types:
                rules.fail(rpath, f"'{name}' has a CNAME record, which cannot share its name with other records")
                break
            same = [r for _, r in entries if r.type == record.type and r.content == record.content
                    and r.host == record.host and r is not record]
            if same:
                rules.fail(rpath, f"duplicate {record.type} record for '{name}'")
            elif record.type in ("A", "AAAA") and any(r.type == record.type for _, r in entries if r is not record):
                # Cloudflare accepts it and then serves both addresses in turn: half the traffic would
                # go to the other server without anyone having asked for round-robin.
                rules.fail(rpath, f"a second {record.type} record for '{name}': Cloudflare would answer with "
                                 "both addresses in turn; keep one (adopt the live one with `adopt:`)")


def check_record(rules: Findings, rpath: str, system: System, record: DnsRecord) -> None:
    kind = record.type
    if record.host is not None and record.content is not None:
        rules.fail(rpath, "give either content or host, not both")
    elif record.host is None and record.content is None:
        rules.fail(f"{rpath}.content", "required: the record's content (or host for A/AAAA records)")
    if record.host is not None:
        hosts = system.hosts or {}
        if kind not in ("A", "AAAA"):
            rules.fail(f"{rpath}.host", f"host can only fill A or AAAA records, not {kind}")
        elif record.host not in hosts:
            rules.fail(f"{rpath}.host", f"no host named '{record.host}' in this system "
                                       f"(hosts: {', '.join(hosts) or 'none'})")
        elif kind == "AAAA" and hosts[record.host] is not None and not has_ipv6(hosts[record.host]):
            rules.fail(f"{rpath}.host", f"host '{record.host}' has no IPv6 address for an AAAA record")
    if record.content is not None:
        check = {"A": formats.ipv4, "AAAA": formats.ipv6, "CNAME": formats.hostname,
                 "MX": formats.hostname}.get(kind)
        message = check(record.content) if check else None
        if message:
            rules.fail(f"{rpath}.content", f"{kind} record content: {message}")
    if record.proxied and kind not in ("A", "AAAA", "CNAME"):
        rules.fail(f"{rpath}.proxied", f"{kind} records cannot be proxied")
    if record.ttl is not None:
        if record.proxied and record.ttl != 1:
            rules.fail(f"{rpath}.ttl", "proxied records have ttl 1 (automatic); remove ttl or set proxied: false")
        elif record.ttl != 1 and not 60 <= record.ttl <= 86400:
            rules.fail(f"{rpath}.ttl",
                      f"{record.ttl} is not a TTL Cloudflare accepts (1 for automatic, or 60-86400)")
    rules.within(f"{rpath}.priority", record.priority, 0, 65535)
    if kind == "MX" and record.priority is None:
        rules.fail(f"{rpath}.priority", "required for MX records")
    if kind != "MX" and record.priority is not None:
        rules.fail(f"{rpath}.priority", f"only MX records have a priority, not {kind}")


def check_hostnames(rules: Findings, path: str, system: System) -> None:
    """A hostname is served by one thing per host: nginx keeps the first server block of a name (and
    only warns), Caddy refuses the config, so a second use would silently serve the other's site."""
    first: dict[tuple[str, str], str] = {}

    def use(host: str, hostname: str | None, where: str, what: str) -> None:
        if hostname is None:
            return
        if (host, hostname) in first:
            rules.fail(where, f"{hostname} is already served on host '{host}' by {first[host, hostname]}: "
                             "a hostname is served by one service or static site per host; remove one")
        else:
            first[host, hostname] = what

    for spath, service in rules.named(f"{path}.services", "service", system.services):
        for i, hostname in enumerate(service.hostnames or ()):
            use(service.host, hostname, f"{spath}.hostnames[{i}]", f"{spath}.hostnames[{i}]")
    for hname, host in (system.hosts or {}).items():
        proxy = host.proxy if host is not None else None
        for hostname in ((proxy.static if proxy is not None else None) or {}):
            where = f"{path}.hosts.{hname}.proxy.static.{hostname}"
            use(hname, hostname, where, f"the static site {where}")


def check_hostname_hosts(rules: Findings, systems: Mapping[str, System | None]) -> None:
    """A hostname's DNS points at one server, and only the proxy it points at can get its certificate
    (the CA asks that server) and be reached: a hostname served by two hosts, or one the stack's own
    A/AAAA records point at another host (the service moved, its records did not), is served by neither."""
    known: dict[str, str] = {}  # address -> the host that has it
    # The hosts stackyard runs: a record at one of them says where the hostname goes. A server it does not
    # provision may be a front passing TLS through to the host that serves the hostname.
    run: set[str] = set()
    for sname, system in systems.items():
        for hname, host in ((system.hosts if system else None) or {}).items():
            if host is not None and (isinstance(host, CreatedHost) or host.provision):
                run.add(f"systems.{sname}.hosts.{hname}")
            adopt = getattr(host, "adopt", None)
            for address in ((host.address, host.ipv6) if isinstance(host, ExistingHost)
                            else (getattr(adopt, "reserved_ip", None),)):
                if address and (text := ip_text(address)):
                    known.setdefault(text, f"systems.{sname}.hosts.{hname}")
    pointed: dict[str, list[tuple[str, str]]] = defaultdict(list)  # hostname -> (record, the host it names)
    served: dict[str, list[tuple[str, str]]] = defaultdict(list)  # hostname -> (where, the host serving it)
    for sname, system in systems.items():
        if system is None:
            continue
        hosts = system.hosts or {}
        for i, record in enumerate((system.dns.records if system.dns else None) or ()):
            if record is None or record.type not in ("A", "AAAA"):
                continue
            name = fqdn(record)
            if not name:
                continue
            if record.host is not None:
                target = f"systems.{sname}.hosts.{record.host}" if record.host in hosts else None
            else:
                address = ip_text(record.content or "")
                target = known.get(address) if address is not None else None
            if target is not None:
                pointed[name].append((f"systems.{sname}.dns.records[{i}]", target))
        for spath, service in rules.named(f"systems.{sname}.services", "service", system.services):
            for i, hostname in enumerate(service.hostnames or ()):
                if hostname is not None and service.host in hosts:
                    served[hostname].append((f"{spath}.hostnames[{i}]", f"systems.{sname}.hosts.{service.host}"))
        for hname, host in hosts.items():
            for hostname in ((host.proxy.static if host is not None and host.proxy else None) or {}):
                served[hostname].append((f"systems.{sname}.hosts.{hname}.proxy.static.{hostname}",
                                         f"systems.{sname}.hosts.{hname}"))
    for hostname, uses in served.items():
        for where, hpath in uses:
            other = next((w for w, h in uses if h != hpath), None)
            if other is not None:
                rules.fail(where, f"{hostname} is also served by {other}, on another host: its DNS points at "
                                 "one server, and the other could neither get its certificate nor be "
                                 "reached; serve it on one host")
            for rpath, target in pointed.get(hostname, ()):
                if target != hpath and target in run:
                    rules.fail(where, f"{hostname} is served on {hpath}, but {rpath} points it at {target}: "
                                     "its certificate could never be issued, and neither host would serve it; "
                                     "point the record at this host, or serve the hostname there")
