"""DigitalOcean: a droplet, its cloud firewall, a Reserved IP it keeps (optional) and the account's SSH keys."""

from __future__ import annotations

from typing import ClassVar

import pulumi

from ..adoption import adopted
from ..model import DigitalOceanHost
from .base import ANYWHERE, Cloud, Server, Site, VpsHostArgs, firewall_rules, kept_size

CREATION_ONLY = ["userData", "sshKeys"]
"""cloud-init reads user data at first boot only, and a droplet's SSH keys are set at creation only:
changing either must not rebuild a running droplet. A change of size is left out too, unless the host
allows a resize (``allowResize``): the provider powers the Droplet off hard, grows its disk for good, and
on a refused downsize powers it on again and fails, on every later up."""


class DigitalOcean(Cloud):
    provider: ClassVar[str] = "digitalocean"
    credential: ClassVar[str | None] = "digitalocean"
    creates_servers: ClassVar[bool] = True
    dial_error_limit: ClassVar[int] = 30

    def provider_resource(self, name, token, opts):
        import pulumi_digitalocean as digitalocean

        return digitalocean.Provider(name, token=token, opts=opts)

    def ssh_key(self, name, key_name, public_key, opts):
        import pulumi_digitalocean as digitalocean

        return digitalocean.SshKey(name, name=key_name, public_key=public_key, opts=opts)

    def key_reference(self, key):
        import pulumi_digitalocean as digitalocean

        assert isinstance(key, digitalocean.SshKey)  # made by ssh_key above
        return key.fingerprint  # a droplet takes the keys' fingerprints

    def build(self, name: str, spec: DigitalOceanHost, args: VpsHostArgs, site: Site) -> Server:
        import pulumi_digitalocean as digitalocean

        child = pulumi.ResourceOptions(parent=site.parent)
        adopt = spec.adopt
        assert args.keyring is not None  # system.py gives every host of a cloud that creates servers its keyring
        droplet = digitalocean.Droplet(
            name,
            name=site.server_name,
            size=spec.size,
            region=spec.region,
            image=spec.image,
            ssh_keys=args.keyring.references(args.ssh_keys),
            user_data=site.user_data,
            ipv6=spec.ipv6,
            backups=spec.snapshots,
            tags=["stackyard", args.system],
            opts=adopted(site.server_opts(args, CREATION_ONLY + ([] if spec.allow_resize else ["size"])),
                         adopt and adopt.droplet),
        )
        kept_size(droplet.size, spec.size, spec.allow_resize, f"{args.path}.size")
        anywhere = ANYWHERE
        digitalocean.Firewall(
            f"{name}-firewall",
            name=site.server_name,
            droplet_ids=[droplet.id.apply(int)],
            inbound_rules=[
                *({"protocol": "tcp", "port_range": str(port), "source_addresses": sources}
                  for port, sources in firewall_rules(spec, args)),
                {"protocol": "icmp", "source_addresses": anywhere},
            ],
            outbound_rules=[
                {"protocol": "tcp", "port_range": "1-65535", "destination_addresses": anywhere},
                {"protocol": "udp", "port_range": "1-65535", "destination_addresses": anywhere},
                {"protocol": "icmp", "destination_addresses": anywhere},
            ],
            opts=adopted(child, adopt and adopt.firewall),
        )
        ipv4 = droplet.ipv4_address
        if spec.reserved_ip:
            reserved = digitalocean.ReservedIp(
                f"{name}-ipv4",
                region=spec.region,
                droplet_id=droplet.id.apply(int),
                opts=adopted(site.kept_opts(args), adopt and adopt.reserved_ip),
            )
            ipv4 = reserved.ip_address
        return Server(ipv4=ipv4, ipv6=droplet.ipv6_address if spec.ipv6 else pulumi.Output.from_input(None),
                      server_id=droplet.id, resource=droplet)
