"""VercelProject: a Vercel project with env vars per target, custom domains and their DNS."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumiverse_vercel as vercel

from .adoption import adopted
from .model import SecretRef, Value, VercelFrontend
from .values import Resolver

TARGETS = ("production", "preview", "development")
# Vercel's documented targets for custom domains.
APEX_ADDRESS = "76.76.21.21"
SUBDOMAIN_TARGET = "cname.vercel-dns.com"


@dataclass(frozen=True)
class VercelProjectArgs:
    spec: VercelFrontend
    """The frontend's entry in the stack file."""
    resolver: Resolver
    """Resolves env values (secrets, record hostnames) of the frontend's system."""
    zone_id: str | None = None
    """ID of the Cloudflare zone the custom domains' records go into, when stackyard manages it."""
    zone: str | None = None
    """Name of that zone, to tell apex domains from subdomains."""
    protect: bool = True
    """Protect the project and its domains' records, as servers are: a delete or replace fails loudly."""


def group_by_value(env: dict[str, dict[str, Value]]) -> dict[str, list[tuple[Value, list[str]]]]:
    """key -> [(value, targets)]: one Vercel variable per distinct value of a key.

    Vercel rejects two variables of one key on overlapping targets, so equal values share
    one variable whose targets are all the targets that use it.
    """
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


def adopted_env_id(adopt, key: str, targets: list[str]) -> str | None:
    """The live variable's ID for this key and group of targets, named under any of the group's targets."""
    if adopt is None:
        return None
    ids = (adopt.env or {}).get(key) or {}
    return next((ids[target] for target in targets if target in ids), None)


class VercelProject(pulumi.ComponentResource):
    """The project, one ProjectEnvironmentVariable per key and value, domains and their records."""

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
        for key, entries in group_by_value(spec.env).items():
            for value, targets in entries:
                # Named by key and first target, which no regrouping of the values changes for that
                # target (each target is in one group per key); the older name joined every target.
                old = f"{name}-{key}-{'-'.join(targets)}"
                env_id = adopted_env_id(adopt, key, targets)
                # A replacement (a value moved between plain text and {secret:}, which Vercel cannot change in
                # place) deletes first: Vercel refuses a second variable of one key and target, so a create
                # before the delete failed every `up` after it.
                options = pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=old)] if len(targets) > 1
                                                 else [], delete_before_replace=True)
                if env_id and isinstance(value, SecretRef):
                    # Vercel never returns a sensitive value, so the import reads it as null: the value is
                    # written on the next change of it, not compared now. Drop `adopt` after the first up.
                    options = pulumi.ResourceOptions.merge(options, pulumi.ResourceOptions(ignore_changes=["value"]))
                vercel.ProjectEnvironmentVariable(
                    f"{name}-{key}-{targets[0]}",
                    project_id=self.project.id,
                    team_id=spec.team_id,
                    key=key,
                    value=args.resolver.resolve(value),
                    targets=targets,
                    sensitive=isinstance(value, SecretRef),
                    opts=adopted(options, env_id and f"{scope}/{env_id}"),
                )
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

