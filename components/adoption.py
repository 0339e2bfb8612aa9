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
    from the cloud, whenever `protect` was off (round 28). Taking the ID out hands the resource over.

    Nor is it deleted first to make way for its replacement (a Hetzner server's unique name, a Vercel
    variable's key): the engine marked the kept one pending replacement, the cloud refused the new one
    beside it, and every later `up` tried again, a reverted change or a removed ID too (round 29). Made
    first, the new one is refused with the state as it was."""
    if not cloud_id:
        return opts
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(import_=cloud_id, retain_on_delete=True,
                                                                     delete_before_replace=False))
