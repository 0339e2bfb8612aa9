"""GithubActionsSecrets: Actions secrets of a system's repositories, from the stack's encrypted config."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_github as github

from .model import Github, SecretRef
from .values import Resolver


@dataclass(frozen=True)
class GithubActionsSecretsArgs:
    spec: Github
    """The system's github entry."""
    resolver: Resolver
    """Resolves secret values of the system."""
    token: SecretRef | None = None
    """The system's own GitHub token (credentials.github); default: github:token."""


class GithubActionsSecrets(pulumi.ComponentResource):
    """One ActionsSecret per repository and name, through a provider bound to the owner.

    The provider takes its token from github:token (set it with --secret); the owner comes
    from the stack file, so one stack can write to several organisations.
    """

    def __init__(self, name: str, args: GithubActionsSecretsArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stackyard:index:GithubActionsSecrets", name, {}, opts)
        token = (pulumi.Output.secret(args.resolver.resolve(args.token)) if args.token is not None
                 else pulumi.Config("github").get_secret("token"))
        provider = github.Provider(f"{name}-{args.spec.owner}", owner=args.spec.owner, token=token,
                                   opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=provider)
        owner = args.spec.owner.lower()
        for repo, spec in args.spec.repositories.items():
            for key, value in spec.secrets.items():
                # Named as GitHub knows it (owner, repository and secret name without case), not after the
                # system: a respelling, or a system renamed without `formerly`, would otherwise create the
                # "new" secret, then delete the old one, which is the same secret. The alias is the name a
                # stack made before had; the name's own respelling is ignored for the same reason.
                github.ActionsSecret(
                    f"github-{owner}-{repo.lower()}-{key.upper()}",
                    repository=repo,
                    secret_name=key,
                    value=pulumi.Output.secret(args.resolver.resolve(value)),
                    opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(
                        aliases=[pulumi.Alias(name=f"{name}-{repo}-{key}")],
                        ignore_changes=["secretName", "repository"])),
                )
        self.register_outputs({})
