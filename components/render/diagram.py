"""The topology of a stack as a Graphviz DOT graph, drawn from the validated model alone (no cloud asked).

One cluster per system. Inside it, one cluster per host (provider, size, region), holding its proxy,
its services (runtime, port, instances), its accessories and its backups; the system's DNS records,
frontends (with their env var names, secret ones marked), Supabase project and GitHub repositories
(secret names) beside them. Edges: a record to the host it points at, the proxy to the services it
serves, a service to the accessories it uses, a frontend to the records its env names.

Values never appear: a secret is shown by its name only, a plain env value not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..model import (
    AccessoryRef,
    HostRef,
    PagesFrontend,
    RecordRef,
    Topology,
    fqdn,
)
from ..model.topology import holds_secret

FONT = "Helvetica"
COLORS = {"host": "#e8f0fe", "proxy": "#fff4e5", "service": "#e6f4ea", "data": "#fce8e6", "dns": "#f1f3f4",
          "frontend": "#f3e8fd", "cloud": "#e0f7fa"}


def quote(text: str) -> str:
    return json.dumps(text)


def node_id(*parts: str) -> str:
    return quote("/".join(parts))


def label(title: str, *lines: str) -> str:
    """An HTML-like label: the title bold, then smaller lines."""
    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    rows = f"<B>{esc(title)}</B>" + "".join(f'<BR/><FONT POINT-SIZE="10">{esc(line)}</FONT>' for line in lines if line)
    return f"<{rows}>"


def node(ident: str, title: str, *lines: str, shape: str = "box", fill: str = "white") -> str:
    return (f"    {ident} [label={label(title, *lines)}, shape={shape}, style=\"rounded,filled\", "
            f"fillcolor=\"{fill}\"];")


def env_names(values: dict) -> list[str]:
    """KEY, KEY*, ...: names only, never values; * marks a secret."""
    return [f"{key}*" if holds_secret(value) else key for key, value in sorted(values.items())]


def env_lines(env: dict) -> list[str]:
    """One block per set of environments with the same variables: "production, preview: A, B*"."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for environment, values in sorted(env.items()):
        if values:
            groups.setdefault(tuple(env_names(values)), []).append(environment)
    lines = []
    for names, environments in groups.items():
        lines += wrap(names, head=f"{', '.join(environments)} env (* secret): ")
    return lines


def wrap(items: Iterable[str], head: str = "", width: int = 46) -> list[str]:
    """``head`` then the items, comma-separated, in lines of about ``width`` characters."""
    lines, line = [], head
    for item in items:
        piece = f"{line}, {item}" if line and line != head else f"{line}{item}"
        if len(piece) > width and line and line != head:
            lines.append(line + ",")
            line = item
        else:
            line = piece
    return [*lines, line] if line else lines


def topology_dot(topology: Topology, stack: str) -> str:
    out = [
        f"digraph {quote(stack)} {{",
        f"    graph [rankdir=LR, fontname=\"{FONT}\", fontsize=12, newrank=true, nodesep=0.25, ranksep=0.5, "
        f"compound=true, label={label(f'stackyard: {stack}', 'drawn from the stack file; secrets by name only')}, "
        "labelloc=t];",
        f"    node [fontname=\"{FONT}\", fontsize=11];",
        f"    edge [fontname=\"{FONT}\", fontsize=9, color=\"#5f6368\"];",
    ]
    for name, system in topology.systems.items():
        out += system_cluster(name, system)
    out.append("}")
    return "\n".join(out) + "\n"


def system_cluster(name: str, system) -> list[str]:
    out = [f"  subgraph {quote('cluster_' + name)} {{",
           f"    label={label(name, system.description or '')}; style=rounded; color=\"#9aa0a6\";"]
    edges: list[str] = []
    records = {}
    for i, record in enumerate(system.dns.records or ()):
        host = fqdn(record)
        ident = node_id(name, "dns", str(i))
        records.setdefault(host, ident)
        target = f"{'proxied' if record.proxied else 'DNS only'}"
        out.append(node(ident, f"{record.type} {host}", target, shape="note", fill=COLORS["dns"]))
        if record.host:
            edges.append(f"    {ident} -> {node_id(name, record.host, 'proxy')} [lhead="
                         f"{quote(f'cluster_{name}_{record.host}')}];")
    for host_name, spec in system.hosts.items():
        out += host_cluster(name, host_name, spec, system, edges)
    for front_name, spec in system.frontends.items():
        ident = node_id(name, "frontend", front_name)
        if isinstance(spec, PagesFrontend):
            title, lines = f"Cloudflare Pages {spec.project}", [f"https://{spec.project}.pages.dev"]
        else:
            title, lines = f"Vercel {spec.project}", [f"https://{spec.project}.vercel.app"]
        lines += [f"domain {d}" for d in spec.domains]
        lines += env_lines(spec.env)
        out.append(node(ident, title, *lines, fill=COLORS["frontend"]))
        edges += reference_edges(name, ident, {f"{e}.{k}": v for e, values in spec.env.items()
                                               for k, v in values.items()}, records)
        for domain in spec.domains:
            if domain in records:
                edges.append(f"    {records[domain]} -> {ident};")
    if system.supabase is not None:
        supabase = system.supabase
        lines = [f"https://{supabase.project_ref}.supabase.co"]
        if supabase.secrets:
            lines += wrap(sorted(supabase.secrets), head="edge secrets: ")
        database = supabase.database
        if database is not None:
            lines += wrap(database.extensions, head="extensions: ") if database.extensions else []
            lines += wrap(database.row_level_security, head="row-level security: ") \
                if database.row_level_security else []
            lines += [f"{len(database.policies)} policies"] if database.policies else []
        out.append(node(node_id(name, "supabase"), "Supabase", *lines, shape="cylinder", fill=COLORS["cloud"]))
        edges += reference_edges(name, node_id(name, "supabase"), supabase.secrets, records)
    if system.github is not None:
        for repo, spec in system.github.repositories.items():
            lines = wrap(sorted(spec.secrets), head="Actions secrets: ")
            ident = node_id(name, "github", repo)
            out.append(node(ident, f"GitHub {system.github.owner}/{repo}", *lines, shape="component",
                            fill=COLORS["cloud"]))
            edges += reference_edges(name, ident, spec.secrets, records)
    out += edges
    out.append("  }")
    return out


def reference_edges(system: str, source: str, values: dict, records: dict[str, str]) -> list[str]:
    """Dashed edges from a node to the records and hosts its values name ({record: ...}, {host: ...})."""
    targets = set()
    for value in values.values():
        if isinstance(value, RecordRef) and value.record in records:
            targets.add((records[value.record], ""))
        elif isinstance(value, HostRef):
            targets.add((node_id(system, value.host, "proxy"), f", lhead={quote(f'cluster_{system}_{value.host}')}"))
    return [f"    {source} -> {target} [style=dashed{extra}];" for target, extra in sorted(targets)]


def host_cluster(system: str, host_name: str, spec, model_system, edges: list[str]) -> list[str]:
    cluster = f"cluster_{system}_{host_name}"
    out = [f"    subgraph {quote(cluster)} {{",
           f"      label={label(f'host {host_name}', spec.summary())}; style=\"rounded,filled\"; "
           f"fillcolor=\"{COLORS['host']}\"; color=\"#4285f4\";"]
    proxy = node_id(system, host_name, "proxy")
    if spec.proxy is not None:
        tls = "Let's Encrypt" if spec.proxy.tls == "letsencrypt" else "internal CA"
        out.append("  " + node(proxy, spec.proxy.kind, f"TLS: {tls}", "ufw on" if spec.ufw else "ufw off",
                               fill=COLORS["proxy"]))
    else:
        out.append("  " + node(proxy, "no proxy", "ufw on" if spec.ufw else "ufw off", fill=COLORS["proxy"]))
    for kind in sorted(spec.accessories):
        out.append("  " + node(node_id(system, host_name, kind), "MariaDB" if kind == "mysql" else kind.capitalize(),
                               "loopback only", shape="cylinder", fill=COLORS["data"]))
    if spec.backups is not None:
        out.append("  " + node(node_id(system, host_name, "backups"), "backups",
                               f"keep {spec.backups.keep}, cron {spec.backups.schedule}", shape="folder",
                               fill=COLORS["data"]))
    for service_name, service in model_system.services.items():
        if service.host != host_name:
            continue
        ident = node_id(system, host_name, "service", service_name)
        port = f":{service.port}" if service.port is not None else "worker, no port"
        instances = f"{service.instances} instance{'s' if service.instances != 1 else ''}"
        lines = [f"{service.runtime}, {port}, {instances}", *service.hostnames]
        out.append("  " + node(ident, service_name, *lines, fill=COLORS["service"]))
        if service.port is not None and spec.proxy is not None:
            edges.append(f"    {proxy} -> {ident};")
        used = sorted({v.accessory for v in service.env.values() if isinstance(v, AccessoryRef)})
        for kind in used:
            edges.append(f"    {ident} -> {node_id(system, host_name, kind)} [style=dashed];")
    out.append("    }")
    return out
