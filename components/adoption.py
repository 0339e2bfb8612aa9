"""Adoption: a resource that already runs in a cloud, taken into the Pulumi state by its ID instead of
created beside it. The stack file names the IDs (`adopt:` next to the entry); see docs/operating.md,
"Adopting a running system"."""

from __future__ import annotations

import pulumi


def adopted(opts: pulumi.ResourceOptions, cloud_id: str | None) -> pulumi.ResourceOptions:
    """``opts``, taking a live resource into the state by its import ID when there is one: the preview
    says `import`, never `create`, and fails if what the stack file says differs from what runs.
    Once in the state the ID is no longer used (Pulumi imports only what is not there yet).

    While its ID stays in the stack file, an adopted resource is never deleted by stackyard, nor replaced
    by deleting it: it was not stackyard's to delete. A renamed entry (a frontend's key, a host without
    `formerly`) imported the live resource under its new name, and the old name's delete then removed it
    from the cloud, whenever `protect` was off (round 28). Taking the ID out hands the resource over."""
    if not cloud_id:
        return opts
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(import_=cloud_id, retain_on_delete=True))
