"""Adoption: a resource that already runs in a cloud, taken into the Pulumi state by its ID instead of
created beside it. The stack file names the IDs (`adopt:` next to the entry); see README.md,
"Adopting a running system"."""

from __future__ import annotations

import pulumi


def adopted(opts: pulumi.ResourceOptions, cloud_id: str | None) -> pulumi.ResourceOptions:
    """``opts``, taking a live resource into the state by its import ID when there is one: the preview
    says `import`, never `create`, and fails if what the stack file says differs from what runs.
    Once in the state the ID is no longer used (Pulumi imports only what is not there yet)."""
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(import_=cloud_id)) if cloud_id else opts
