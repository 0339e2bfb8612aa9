"""stackyard's guardrails, as plain functions over the resources of a stack.

Each rule takes every resource of the stack (type, name, inputs, protect, parent) and returns its
violations. They import nothing from Pulumi, so the unit tests run them on the program's resources
under mocks, and the policy pack (__main__.py) runs them on what the real engine plans.

Mandatory rules stop `pulumi preview`/`up`; advisory ones are reported and let it go on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

BROWSER_PREFIXES = ("VITE_", "NEXT_PUBLIC_", "REACT_APP_", "PUBLIC_", "GATSBY_", "NUXT_PUBLIC_", "VUE_APP_",
                    "EXPO_PUBLIC_", "STORYBOOK_", "SANITY_STUDIO_")
"""Variables the frontend build compiles into the JavaScript every visitor downloads."""
ANYWHERE = {"0.0.0.0/0", "::/0"}

VERCEL_ENV = "vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable"
PAGES = "cloudflare:index/pagesProject:PagesProject"
DNS_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
COMMAND = "command:remote:Command"
KEPT = ("hcloud:index/server:Server", "hcloud:index/primaryIp:PrimaryIp", "digitalocean:index/droplet:Droplet",
        "digitalocean:index/reservedIp:ReservedIp")
FRONTENDS = ("stackyard:index:VercelProject", "stackyard:index:CloudflarePagesProject")
HOST_PROVISIONING = "stackyard:index:HostProvisioning"
VPS_HOST = "stackyard:index:VpsHost"
HCLOUD_FIREWALL = "hcloud:index/firewall:Firewall"
DO_FIREWALL = "digitalocean:index/firewall:Firewall"
WEB_PORTS = (80, 443)

# The only command lines stackyard gives its remote commands: scripts and secrets go on stdin, so a
# command line that is anything else may be carrying a value it should not.
PATH = r"[\w./@:+-]+"
COMMAND_LINES = [re.compile(pattern) for pattern in (
    r"(sudo -n )?bash -s",
    # components/render/provision.py's write_file_command, its paths and owner the only variable parts.
    rf"(sudo -n )?sh -c 'umask 077 && d={PATH} && mkdir -p \"\$d\" && "
    r"if \[ -L \"\$d\" \] \|\| \[ \"\$\(stat -c %u \"\$d\"\)\" != 0 \]; then "
    r"echo \"stackyard: \$d is a link or not root-owned: nothing written\" >&2; exit 1; fi && "
    r"t=\$\(mktemp \"\$d/\.stackyard\.XXXXXXXX\"\) && "
    rf"if ! \{{ cat > \"\$t\" && chown {PATH} \"\$t\" && chmod 0[0-7]{{3}} \"\$t\" && "
    rf"mv -f \"\$t\" {PATH}; \}}; then rm -f \"\$t\"; exit 1; fi'",
    rf"(sudo -n )?/srv/[\w.-]+/deploy( --restart)? {PATH}",
    r"(sudo -n )?/srv/[\w.-]+/remove",
    r"(sudo -n )?systemctl disable --now (mariadb|redis-server|postgresql)",
    # RemoteSteps.claim: a resource holding a service or an accessory, stopped only when nothing else holds it;
    # an update moves the claim from the resource's own former names (a rename with `formerly`).
    r"(sudo -n )?/usr/local/sbin/stackyard-claim add (service|accessory) [\w.-]+ [\w.-]+",
    r"(sudo -n )?/usr/local/sbin/stackyard-claim move (service|accessory) [\w.-]+ [\w.-]+( [\w.-]+)*",
    r"(sudo -n )?/usr/local/sbin/stackyard-claim release (service [\w.-]+ [\w.-]+ /srv/[\w.-]+/remove"
    r"|accessory [\w.-]+ [\w.-]+( systemctl disable --now (mariadb|redis-server|postgresql))?)",
    r"true",
)]


@dataclass(frozen=True)
class Resource:
    """A resource as the rules see it. ``props`` are its inputs, or for a stackyard component (and the
    stack itself) its registered outputs; a value not known yet (preview) is absent."""

    type: str
    name: str
    props: Mapping[str, Any]
    protect: bool = False
    parent: Resource | None = None
    urn: str = ""


@dataclass(frozen=True)
class Violation:
    resource: Resource | None
    message: str


Rule = Callable[[list[Resource]], list[Violation]]


@dataclass(frozen=True)
class Guardrail:
    name: str
    description: str
    mandatory: bool
    check: Rule


def of_type(resources: Iterable[Resource], *types: str) -> list[Resource]:
    return [r for r in resources if r.type in types]


def ancestor(resource: Resource, types: tuple[str, ...]) -> Resource | None:
    node = resource.parent
    while node is not None and node.type not in types:
        node = node.parent
    return node


# --- mandatory -----------------------------------------------------------------------------------


def browser_bundle_secrets(resources: list[Resource]) -> list[Violation]:
    """A secret in a VITE_/NEXT_PUBLIC_/REACT_APP_/PUBLIC_ variable is published to every visitor. Allowed
    only where the stack file says so for that variable (the frontend's publicSecrets)."""
    found = []
    for env in of_type(resources, VERCEL_ENV):
        key = str(env.props.get("key", ""))
        if key.startswith(BROWSER_PREFIXES) and env.props.get("sensitive") and not waived(env, key):
            found.append(Violation(env, f"{key} is a secret in a browser-bundled variable: the build publishes it "
                                        "to every visitor. Move it server-side, or list it in the frontend's "
                                        "publicSecrets to accept that."))
    for project in of_type(resources, PAGES):
        for environment, config in sorted((project.props.get("deploymentConfigs") or {}).items()):
            for key, var in sorted(((config or {}).get("envVars") or {}).items()):
                if key.startswith(BROWSER_PREFIXES) and (var or {}).get("type") == "secret_text" \
                        and not waived(project, key):
                    found.append(Violation(project, f"{key} ({environment}) is a secret in a browser-bundled "
                                                    "variable: the build publishes it to every visitor. Move it "
                                                    "server-side, or list it in the frontend's publicSecrets."))
    return found


def waived(resource: Resource, key: str) -> bool:
    frontend = resource if resource.type in FRONTENDS else ancestor(resource, FRONTENDS)
    return frontend is not None and key in (frontend.props.get("publicSecrets") or [])


def kept_resources_protected(resources: list[Resource]) -> list[Violation]:
    """Servers and the addresses that outlive them must be protected: a plan that deletes or replaces
    one must fail loudly, not happen."""
    return [Violation(r, f"{r.type.rsplit(':', 1)[1]} {r.name} is not protected: a replacement or a delete "
                         "would go ahead; keep stackyard:protect true") for r in of_type(resources, *KEPT)
            if not r.protect]


def served_hostnames_reachable(resources: list[Resource]) -> list[Violation]:
    """A host whose proxy serves hostnames must be reachable from anywhere (0.0.0.0/0 and ::/0) on 80 and 443
    through its cloud firewall: 80 carries the ACME challenge and the redirect, 443 the site. A firewall
    that blocks either takes the site, or its next certificate, down."""
    serving = {r.props.get("path"): r.props.get("hostnames") for r in of_type(resources, HOST_PROVISIONING)
               if r.props.get("hostnames")}
    found = []
    for firewall in of_type(resources, HCLOUD_FIREWALL, DO_FIREWALL):
        host = ancestor(firewall, (VPS_HOST,))
        path = host.props.get("path") if host is not None else None
        hostnames = serving.get(path)
        if not hostnames:
            continue
        opened = open_to_anyone(firewall)
        blocked = [port for port in WEB_PORTS if port not in opened]
        if blocked:
            found.append(Violation(firewall, f"{path}: its cloud firewall {firewall.name} blocks "
                                             f"{' and '.join(map(str, blocked))} from anywhere, and its proxy serves "
                                             f"{', '.join(hostnames)}: leave openPorts out (80 and 443 open "
                                             "by themselves on a host with a proxy), or list them"))
    return found


def open_to_anyone(firewall: Resource) -> set[int]:
    """The TCP ports a cloud firewall lets in from every address of both families."""
    if firewall.type == HCLOUD_FIREWALL:
        rules = [(rule.get("port"), rule.get("sourceIps")) for rule in firewall.props.get("rules") or []
                 if rule.get("direction") == "in" and rule.get("protocol") == "tcp"]
    else:
        rules = [(rule.get("portRange"), rule.get("sourceAddresses")) for rule in firewall.props.get("inboundRules")
                 or [] if rule.get("protocol") == "tcp"]
    ports: set[int] = set()
    for span, sources in rules:
        if not set(sources or []) >= ANYWHERE:
            continue
        low, _, high = str(span or "").partition("-")
        if str(span) == "all":
            low, high = "1", "65535"
        if low.isdigit() and (high or low).isdigit():
            ports |= {port for port in WEB_PORTS if int(low) <= port <= int(high or low)}
    return ports


def proxied_records_ttl_one(resources: list[Resource]) -> list[Violation]:
    """Cloudflare serves proxied records with its own TTL and refuses any other than 1 (automatic)."""
    return [Violation(r, f"{r.props.get('name')} is proxied with ttl {r.props.get('ttl')}: proxied records "
                         "take ttl 1") for r in of_type(resources, DNS_RECORD)
            if r.props.get("proxied") and r.props.get("ttl") != 1]


def remote_commands_carry_no_secret(resources: list[Resource]) -> list[Violation]:
    """A remote command's `environment` reaches the host in its command line (sshd without AcceptEnv),
    and its command lines are in the state, the logs and `ps`: secrets go on stdin. So a command has
    no environment, its command lines are stackyard's own shapes, and none holds a value the stack
    keeps secret elsewhere."""
    secrets = secret_values(resources)
    found = []
    for command in of_type(resources, COMMAND):
        if command.props.get("environment"):
            found.append(Violation(command, f"{command.name} sets environment: sshd puts it in a command line; "
                                            "pass values on stdin instead"))
        for field in ("create", "update", "delete"):
            line = command.props.get(field)
            if not isinstance(line, str):
                continue
            if not any(shape.fullmatch(line) for shape in COMMAND_LINES):
                found.append(Violation(command, f"{command.name}: its {field} command line is not one of "
                                                f"stackyard's own; values belong on stdin: {line[:80]!r}"))
            elif any(secret in line for secret in secrets):
                found.append(Violation(command, f"{command.name}: its {field} command line holds a secret value"))
    return found


def secret_values(resources: list[Resource]) -> set[str]:
    """Values the stack keeps secret by their kind: sensitive Vercel variables and secret_text Pages
    variables (stackyard makes only secrets so), generated passwords, single-value secret files written
    to hosts. Not Actions secrets: GitHub encrypts every one, and many hold addresses and names that are
    rightly in the outputs too (DEPLOY_HOST, SSH_USER)."""
    values: set[object] = set()  # what the props hold: only strings are kept, below
    for r in resources:
        if r.type == VERCEL_ENV and r.props.get("sensitive"):
            values.add(r.props.get("value"))
        elif r.type == PAGES:
            for config in (r.props.get("deploymentConfigs") or {}).values():
                for var in ((config or {}).get("envVars") or {}).values():
                    if (var or {}).get("type") == "secret_text":
                        values.add(var.get("value"))
        elif r.type == "random:index/randomPassword:RandomPassword":
            values.add(r.props.get("result"))
        elif r.type == COMMAND and r.props.get("logging") == "none" and "\n" not in str(r.props.get("stdin", "\n")):
            values.add(r.props.get("stdin"))
    return {v for v in values if isinstance(v, str) and len(v) >= 8}


def no_secret_in_plain_outputs(resources: list[Resource]) -> list[Violation]:
    """The stack's outputs are shown by `pulumi stack output` to anyone with the state: none of them may
    hold a value the stack keeps secret."""
    secrets = secret_values(resources)
    found = []
    for stack in of_type(resources, "pulumi:pulumi:Stack"):
        texts = list(strings(stack.props))
        # An output may also be JSON text (Output.json_dumps) holding the secret with its \\ and " escaped.
        forms = secrets | {json.dumps(secret)[1:-1] for secret in secrets}
        if any(form in text for form in forms for text in texts):
            found.append(Violation(stack, "a stack output holds a secret value"))
    return found


def strings(value: Any) -> Iterator[str]:
    """Every string inside ``value`` (keys too, and numbers as text) exactly as it is: not its repr, which
    doubles each backslash and escapes quotes, so a secret holding one would never be found in it."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings(key)
            yield from strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from strings(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


# --- advisory ------------------------------------------------------------------------------------


def ssh_open_to_the_world(resources: list[Resource]) -> list[Violation]:
    """Every bot on the internet tries SSH: narrow it to your office or VPN with sshAllowFrom."""
    found = []
    for firewall in of_type(resources, "hcloud:index/firewall:Firewall"):
        for rule in firewall.props.get("rules") or []:
            if rule.get("description") == "ssh" and ANYWHERE & set(rule.get("sourceIps") or []):
                found.append(Violation(firewall, f"{firewall.name} lets anyone reach SSH (port {rule.get('port')}); "
                                                 "set sshAllowFrom"))
    for firewall in of_type(resources, "digitalocean:index/firewall:Firewall"):
        rules = firewall.props.get("inboundRules") or []
        if rules and ANYWHERE & set(rules[0].get("sourceAddresses") or []):  # stackyard puts SSH first
            found.append(Violation(firewall, f"{firewall.name} lets anyone reach SSH (port "
                                             f"{rules[0].get('portRange')}); set sshAllowFrom"))
    return found


def hosts_without_ufw(resources: list[Resource]) -> list[Violation]:
    """Without ufw a host's own ports (a database bound by mistake to 0.0.0.0) are as open as its cloud
    firewall, and existing hosts have none."""
    return [Violation(r, f"{r.name}: ufw is off") for r in of_type(resources, HOST_PROVISIONING)
            if r.props.get("ufw") is False]


def services_without_health_path(resources: list[Resource]) -> list[Violation]:
    """A service behind the proxy without a health check is switched to whether it answers or not."""
    return [Violation(r, f"{r.name}: service {name} has a port but no health check")
            for r in of_type(resources, HOST_PROVISIONING)
            for name, service in sorted((r.props.get("services") or {}).items())
            if service.get("port") is not None and not service.get("healthPath")]


def backups_kept_under_three(resources: list[Resource]) -> list[Violation]:
    """Fewer than 3 dumps: one bad night and the last good one is gone."""
    return [Violation(r, f"{r.name}: backups keep {int(r.props['backups'].get('keep') or 0)}, under 3")
            for r in of_type(resources, HOST_PROVISIONING)
            if r.props.get("backups") and (r.props["backups"].get("keep") or 0) < 3]


GUARDRAILS = [
    Guardrail("no-secret-in-browser-bundle", browser_bundle_secrets.__doc__ or "", True, browser_bundle_secrets),
    Guardrail("servers-and-kept-ips-protected", kept_resources_protected.__doc__ or "", True,
              kept_resources_protected),
    Guardrail("proxied-dns-ttl-1", proxied_records_ttl_one.__doc__ or "", True, proxied_records_ttl_one),
    Guardrail("served-hostnames-reachable", served_hostnames_reachable.__doc__ or "", True,
              served_hostnames_reachable),
    Guardrail("remote-command-carries-no-secret", remote_commands_carry_no_secret.__doc__ or "", True,
              remote_commands_carry_no_secret),
    Guardrail("no-secret-in-plain-outputs", no_secret_in_plain_outputs.__doc__ or "", True,
              no_secret_in_plain_outputs),
    Guardrail("ssh-open-to-the-world", ssh_open_to_the_world.__doc__ or "", False, ssh_open_to_the_world),
    Guardrail("host-without-ufw", hosts_without_ufw.__doc__ or "", False, hosts_without_ufw),
    Guardrail("service-without-health-path", services_without_health_path.__doc__ or "", False,
              services_without_health_path),
    Guardrail("backups-keep-under-3", backups_kept_under_three.__doc__ or "", False, backups_kept_under_three),
]
