"""VercelProject: a Vercel project with env vars per target, custom domains and their DNS."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumiverse_vercel as vercel

from .adoption import adopted
from .model import SecretRef, Value, VercelFrontend
from .values import Resolver

Target = Literal["production", "preview", "development"]
"""A Vercel environment a variable is set for."""
TARGETS: tuple[Target, ...] = ("production", "preview", "development")
# Vercel's documented targets for custom domains.
APEX_ADDRESS = "76.76.21.21"
SUBDOMAIN_TARGET = "cname.vercel-dns.com"


@dataclass(frozen=True)
class VercelProjectArgs:
    spec: VercelFrontend
    """The frontend's entry in the stack file."""
    resolver: Resolver
    """Resolves env values (secrets, record hostnames) of the frontend's system."""
    path: str
    """The frontend's config path (systems.<s>.frontends.<f>), for messages."""
    zone_id: str | None = None
    """ID of the Cloudflare zone the custom domains' records go into, when stackyard manages it."""
    zone: str | None = None
    """Name of that zone, to tell apex domains from subdomains."""
    protect: bool = True
    """Protect the project and its domains' records, as servers are: a delete or replace fails loudly."""


def group_by_value(env: Mapping[Target, Mapping[str, Value]]) -> dict[str, list[tuple[Value, list[str]]]]:
    """key -> [(value, targets)]: the targets that share each distinct value of a key, in TARGETS order."""
    grouped: dict[str, list[tuple[Value, list[str]]]] = {}
    for target in TARGETS:
        for key, value in env.get(target, {}).items():
            entries = grouped.setdefault(key, [])
            for existing, targets in entries:
                if existing == value:
                    targets.append(target)
                    break
            else:
                entries.append((value, [target]))
    return grouped


def variables(env: Mapping[Target, Mapping[str, Value]], adopt) -> list[tuple[str, Value, list[str], str | None]]:
    """(key, value, targets, adopted ID) of each Vercel variable: one per key and target.

    Vercel refuses two variables of one key on a target. Variables grouped by value (one for the targets
    that share it) had to regroup when values met or parted, and the engine updates before it deletes:
    the variable widened onto a target whose own variable was still there, Vercel refused, and every
    later `up` failed the same way. One per target never regroups. The exception is a variable adopted
    for several targets: it is imported as Vercel holds it, whole, while its adopt entry stays."""
    out = []
    for key, entries in group_by_value(env).items():
        ids = ((adopt.env or {}).get(key) or {}) if adopt is not None else {}
        for value, targets in entries:
            env_id = next((ids[target] for target in targets if target in ids), None)
            if env_id and len(targets) > 1:
                out.append((key, value, targets, env_id))
            else:
                out += [(key, value, [target], ids.get(target)) for target in targets]
    return out


class VercelProject(pulumi.ComponentResource):
    """The project, one ProjectEnvironmentVariable per key and target, domains and their records."""

    url: pulumi.Output[str]
    """https://<project>.vercel.app, the project's production domain on Vercel"""

    def __init__(self, name: str, args: VercelProjectArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stackyard:index:VercelProject", name, {}, opts)
        spec = args.spec
        adopt = spec.adopt
        # Vercel's import IDs: [team/]project, [team/]project/env ID, [team/]project/domain.
        scope = f"{spec.team_id}/{adopt.project}" if adopt and spec.team_id else (adopt and adopt.project)
        child = pulumi.ResourceOptions(parent=self)
        self.project = vercel.Project(
            name,
            name=spec.project,
            team_id=spec.team_id,
            framework=spec.framework,
            build_command=spec.build.command,
            install_command=spec.build.install_command,
            output_directory=spec.build.output_dir,
            root_directory=spec.build.root_dir,
            git_repository={"type": "github", "repo": spec.repository} if spec.repository else None,
            opts=adopted(pulumi.ResourceOptions(parent=self, protect=args.protect), scope),
        )
        made: dict[str, list[pulumi.Resource]] = {}
        for key, value, targets, env_id in variables(spec.env, adopt):
            # Named by key and (first) target. Names of two earlier schemes: the value's targets joined
            # (`-production-preview`), then one variable per value named by its first target, which this
            # one keeps: that variable narrows to its own target, and the key's other targets' variables
            # are made after it (depends_on), never beside a variable that still holds their target.
            # Every joined name that began with this target is this variable's former name: each had one
            # first target, so no two variables claim one. (A first target dropped in the same `up` as
            # the upgrade from one variable per value has no such name: README, "Adopting".)
            later = TARGETS[TARGETS.index(targets[0]) + 1:]
            aliases = [pulumi.Alias(name=f"{name}-{key}-{'-'.join((targets[0], *rest))}")
                       for size in range(1, len(later) + 1) for rest in itertools.combinations(later, size)]
            # A replacement (a value moved between plain text and {secret:}, which Vercel cannot change in
            # place) deletes first, for the same reason.
            options = pulumi.ResourceOptions(parent=self, aliases=aliases, delete_before_replace=True,
                                             depends_on=made.get(key, []))
            if env_id and isinstance(value, SecretRef):
                # Vercel never returns a sensitive value, so the import reads it as null and would fail on
                # the difference. Pulumi has no "ignore on import only": while the entry stays, the value
                # is ignored on every up, a rotated secret included. Said on every run, by its entry.
                options = pulumi.ResourceOptions.merge(options, pulumi.ResourceOptions(ignore_changes=["value"]))
                pulumi.log.warn(f"{args.path}.adopt.env.{key}: an adopted sensitive variable: its value is neither "
                                "compared nor written while this entry stays; remove the entry after the first "
                                "up that imported it")
            made.setdefault(key, []).append(vercel.ProjectEnvironmentVariable(
                f"{name}-{key}-{targets[0]}",
                project_id=self.project.id,
                team_id=spec.team_id,
                key=key,
                value=args.resolver.resolve(value),
                targets=targets,
                sensitive=isinstance(value, SecretRef),
                opts=adopted(options, env_id and f"{scope}/{env_id}"),
            ))
        for domain in spec.domains:
            vercel.ProjectDomain(f"{name}-{domain}", project_id=self.project.id, team_id=spec.team_id,
                                 domain=domain, opts=adopted(child, adopt and f"{scope}/{domain}"))
            if args.zone_id:
                from .cloudflare_dns import record

                apex = domain == args.zone
                # Vercel issues the certificate itself, so its records must not be proxied.
                record(f"{name}-{domain}-{'a' if apex else 'cname'}", zone_id=args.zone_id, name=domain,
                       type="A" if apex else "CNAME", content=APEX_ADDRESS if apex else SUBDOMAIN_TARGET,
                       proxied=False, comment=f"Vercel project {spec.project}",
                       opts=adopted(pulumi.ResourceOptions(parent=self, protect=args.protect),
                                    adopt and adopt.records.get(domain) and f"{args.zone_id}/{adopt.records[domain]}"))
        self.url = pulumi.Output.from_input(f"https://{spec.project}.vercel.app")
        self.project_id = self.project.id
        self.domains = list(spec.domains)
        # publicSecrets: read by the policy pack's no-secret-in-browser-bundle (policies see component outputs)
        self.register_outputs({"projectId": self.project.id, "url": self.url,
                               "publicSecrets": list(spec.public_secrets)})

    def frontend_id(self, output: str) -> pulumi.Output[str]:
        """What a FrontendRef reads of it (values.FrontendIds): ``projectId`` or ``teamId``."""
        return self.project.id if output == "projectId" else self.project.team_id

