"""CloudflarePagesProject: a Pages project with its build, env vars, custom domains and their DNS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_cloudflare as cloudflare

from .adoption import adopted
from .cloudflare_dns import record
from .model import PagesFrontend
from .values import Resolver

EnvVar = cloudflare.PagesProjectDeploymentConfigsProductionEnvVarsArgsDict
"""One variable of a deployment config (the SDK's preview type has the same keys)."""


@dataclass(frozen=True)
class CloudflarePagesProjectArgs:
    spec: PagesFrontend
    """The frontend's entry in the stack file."""
    resolver: Resolver
    """Resolves env values (secrets, record hostnames) of the frontend's system."""
    zone_id: str | None = None
    """ID of the zone the custom domains' records go into, when stackyard manages it."""
    protect: bool = True
    """Protect the project and its domains' records, as servers are: a delete or replace fails loudly."""


class CloudflarePagesProject(pulumi.ComponentResource):
    """The project, one PagesDomain per custom domain and, in a managed zone, its CNAME."""

    url: pulumi.Output[str]
    """https://<project>.pages.dev"""

    def __init__(self, name: str, args: CloudflarePagesProjectArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stackyard:index:CloudflarePagesProject", name, {}, opts)
        spec = args.spec
        adopt = spec.adopt
        child = pulumi.ResourceOptions(parent=self)
        build: cloudflare.PagesProjectBuildConfigArgsDict = {}
        if spec.build.command is not None:
            build["build_command"] = spec.build.command
        if spec.build.output_dir is not None:
            build["destination_dir"] = spec.build.output_dir
        if spec.build.root_dir is not None:
            build["root_dir"] = spec.build.root_dir
        source: cloudflare.PagesProjectSourceArgsDict | None = None
        if spec.repository:
            owner, repo = spec.repository.split("/", 1)
            source = {"type": "github", "config": {
                "owner": owner, "repo_name": repo, "production_branch": spec.production_branch}}
        self.project = cloudflare.PagesProject(
            name,
            account_id=spec.account_id,
            name=spec.project,
            production_branch=spec.production_branch,
            build_config=build or None,
            source=source,
            deployment_configs={
                "production": {"env_vars": self._env_vars(args, "production")},
                "preview": {"env_vars": self._env_vars(args, "preview")},
            },
            opts=adopted(pulumi.ResourceOptions(parent=self, protect=args.protect),
                         adopt and f"{spec.account_id}/{spec.project}"),
        )
        pages_host = f"{spec.project}.pages.dev"
        for domain in spec.domains:
            cloudflare.PagesDomain(
                f"{name}-{domain}",
                account_id=spec.account_id,
                project_name=self.project.name,
                name=domain,
                opts=adopted(child, adopt and f"{spec.account_id}/{spec.project}/{domain}"),
            )
            if args.zone_id:
                # Cloudflare flattens a CNAME at the apex, so one rule serves apex and subdomains.
                record(f"{name}-{domain}-cname", zone_id=args.zone_id, name=domain, type="CNAME",
                       content=pages_host, proxied=True, comment=f"Pages project {spec.project}",
                       opts=adopted(pulumi.ResourceOptions(parent=self, protect=args.protect),
                                    adopt and adopt.records.get(domain) and f"{args.zone_id}/{adopt.records[domain]}"))
        self.url = pulumi.Output.from_input(f"https://{pages_host}")
        self.domains = list(spec.domains)
        # publicSecrets: read by the policy pack's no-secret-in-browser-bundle (policies see component outputs)
        self.register_outputs({"url": self.url, "publicSecrets": list(spec.public_secrets)})

    @staticmethod
    def _env_vars(args: CloudflarePagesProjectArgs,
                  environment: Literal["production", "preview"]) -> dict[str, EnvVar]:
        values = args.spec.env.get(environment, {})
        return {
            key: {"type": "secret_text" if Resolver.is_secret(value) else "plain_text",
                  "value": args.resolver.resolve(value)}
            for key, value in values.items()
        }
