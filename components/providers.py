"""Explicit providers for a system that has cloud tokens of its own (systems.<name>.credentials).

The seeds are three companies, each with its own Hetzner, DigitalOcean, Cloudflare, Vercel and
GitHub accounts: one stack can serve them all only if each system's resources go through providers
holding that system's tokens. A cloud the system does not name goes through the default provider,
configured by the stack (hcloud:token, ...). Provider SDKs are imported only for the clouds named.
"""

from __future__ import annotations

import pulumi

from .clouds import CLOUDS
from .model import Credentials
from .values import Resolver


def system_providers(system: str, credentials: Credentials, resolver: Resolver,
                     parent: pulumi.Resource) -> dict[str, pulumi.ProviderResource]:
    """cloud -> its provider for this system, for each cloud the system names a token for (not github:
    GithubActionsSecrets binds its own provider to the repositories' owner)."""
    providers: dict[str, pulumi.ProviderResource] = {}
    opts = pulumi.ResourceOptions(parent=parent)

    def token(secret) -> pulumi.Output[str]:
        return pulumi.Output.secret(resolver.resolve(secret))

    for cloud in CLOUDS.values():
        if not cloud.credential:
            continue  # a kind with no cloud account (existing)
        own = getattr(credentials, cloud.credential)
        if own is not None:
            providers[cloud.credential] = cloud.provider_resource(f"{system}-{cloud.credential}", token(own), opts)
    if credentials.cloudflare is not None:
        import pulumi_cloudflare as cloudflare

        providers["cloudflare"] = cloudflare.Provider(f"{system}-cloudflare", api_token=token(credentials.cloudflare),
                                                      opts=opts)
    if credentials.vercel is not None:
        import pulumiverse_vercel as vercel

        providers["vercel"] = vercel.Provider(f"{system}-vercel", api_token=token(credentials.vercel), opts=opts)
    return providers
