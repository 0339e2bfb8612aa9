"""Hetzner Cloud: a server, its firewall, a Primary IP it keeps (optional) and the account's SSH keys."""

from __future__ import annotations

from typing import ClassVar

import pulumi

from ..adoption import adopted
from ..model import HetznerHost
from .base import ANYWHERE, Cloud, Server, Site, VpsHostArgs, firewall_rules, kept_size

CREATION_ONLY = ["userData", "sshKeys", "publicNets"]
"""cloud-init reads user data at first boot only, and Hetzner sets SSH keys at creation only: changing
either must not rebuild a running server. Its public networks neither: the provider applies a change of
them (primaryIp or ipv6 turned on or off) by powering the running server off hard and, for a Primary IP,
deleting the address it had. A change of serverType is left out too, unless the host allows a resize
(``allowResize``): the provider powers the server off hard to make it, and leaves it off when Hetzner
refuses the type (a smaller disk, another architecture), on every later up."""


class Hetzner(Cloud):
    provider: ClassVar[str] = "hetzner"
    credential: ClassVar[str | None] = "hcloud"
    creates_servers: ClassVar[bool] = True
    dial_error_limit: ClassVar[int] = 30

    def provider_resource(self, name, token, opts):
        import pulumi_hcloud as hcloud

        return hcloud.Provider(name, token=token, opts=opts)

    def ssh_key(self, name, key_name, public_key, opts):
        import pulumi_hcloud as hcloud

        return hcloud.SshKey(name, name=key_name, public_key=public_key, labels={"managed-by": "stackyard"},
                             opts=opts)

    def key_reference(self, key):
        return key.id  # a server takes the keys' IDs

    def build(self, name: str, spec: HetznerHost, args: VpsHostArgs, site: Site) -> Server:
        import pulumi_hcloud as hcloud

        child = pulumi.ResourceOptions(parent=site.parent)
        adopt = spec.adopt
        labels = {"managed-by": "stackyard", "system": args.system}
        firewall = hcloud.Firewall(
            f"{name}-firewall",
            name=site.server_name,
            labels=labels,
            rules=[
                *({"direction": "in", "protocol": "tcp", "port": str(port), "source_ips": sources,
                   "description": "ssh" if i == 0 else f"port {port}"}
                  for i, (port, sources) in enumerate(firewall_rules(spec, args))),
                {"direction": "in", "protocol": "icmp", "source_ips": ANYWHERE, "description": "ping"},
            ],
            opts=adopted(child, adopt and adopt.firewall),
        )
        public_net: hcloud.ServerPublicNetArgsDict = {"ipv4_enabled": True, "ipv6_enabled": spec.ipv6}
        if spec.primary_ip:
            primary = hcloud.PrimaryIp(
                f"{name}-ipv4",
                name=f"{site.server_name}-ipv4",
                type="ipv4",
                assignee_type="server",
                location=spec.location,
                auto_delete=False,
                labels=labels,
                opts=adopted(site.kept_opts(args), adopt and adopt.primary_ip),
            )
            public_net["ipv4"] = primary.id.apply(int)
        assert args.keyring is not None  # system.py gives every host of a cloud that creates servers its keyring
        server = hcloud.Server(
            name,
            name=site.server_name,
            server_type=spec.server_type,
            image=spec.image,
            location=spec.location,
            ssh_keys=args.keyring.references(args.ssh_keys),
            user_data=site.user_data,
            public_nets=[public_net],
            backups=spec.snapshots,
            labels=labels,
            # Hetzner names are unique in a project: the old server must go before its replacement comes.
            opts=adopted(site.server_opts(args, CREATION_ONLY + ([] if spec.allow_resize else ["serverType"]),
                                          delete_before_replace=True), adopt and adopt.server),
        )
        kept_size(server.server_type, spec.server_type, spec.allow_resize, f"{args.path}.serverType")
        hcloud.FirewallAttachment(
            f"{name}-firewall-attachment",
            firewall_id=firewall.id.apply(int),
            server_ids=[server.id.apply(int)],
            opts=adopted(child, adopt and adopt.firewall),  # an attachment's ID is its firewall's
        )
        ipv6 = server.ipv6_address if spec.ipv6 else pulumi.Output.from_input(None)
        return Server(ipv4=server.ipv4_address, ipv6=ipv6, server_id=server.id, resource=server)
