"""One resource the real provider, or stackyard's policy pack, refuses, chosen by config `case`."""

import pulumi

case = pulumi.Config().require("case")
if case == "proxied-ttl":
    import pulumi_cloudflare as cloudflare

    cloudflare.DnsRecord("api", zone_id="e3b0c74af4dd938aa071e706ee9cf568", name="api.example.com", type="A",
                         content="198.51.100.7", proxied=True, ttl=300)
elif case == "no-targets":
    import pulumiverse_vercel as vercel

    vercel.ProjectEnvironmentVariable("api-url", project_id="prj_0123456789", key="API_URL",
                                      value="https://api.example.com", targets=[], sensitive=False)
elif case == "command-env":
    import pulumi_command as command

    command.remote.Command("deploy", connection={"host": "192.0.2.10", "user": "root"}, create="./deploy",
                           environment={"API_TOKEN": pulumi.Output.secret("tok-0123456789abcdef")})
elif case == "output-secret":
    import pulumiverse_vercel as vercel

    leaked = "sk-live-0123456789abcdef"
    vercel.ProjectEnvironmentVariable("api-key", project_id="prj_0123456789", key="API_KEY",
                                      value=pulumi.Output.secret(leaked), targets=["production"], sensitive=True)
    pulumi.export("apiKey", leaked)
elif case == "schema-type":
    import pulumi_hcloud as hcloud

    # The SDK does not type-check at run time: a string where the schema has a boolean reaches the plugin.
    hcloud.Server("web", name="web", server_type="cx22", image="debian-12",
                  public_nets=[{"ipv4_enabled": "yes", "ipv6_enabled": True}])
elif case == "schema-required":
    # The SDK refuses a missing required argument itself; a bare CustomResource sends what it is given.
    pulumi.CustomResource("hcloud:index/server:Server", "web",
                          {"name": "web", "image": "debian-12", "backup": True})
elif case == "blocked-web":
    import pulumi_hcloud as hcloud

    # A firewall written by hand under a host whose proxy serves a hostname, with 443 left shut: the
    # components stand in for stackyard's own (the policy reads their registered outputs).
    class Component(pulumi.ComponentResource):
        def __init__(self, kind: str, name: str, outputs: dict) -> None:
            super().__init__(f"stackyard:index:{kind}", name)
            self.register_outputs(outputs)

    host = Component("VpsHost", "shop-web", {"path": "systems.shop.hosts.web"})
    Component("HostProvisioning", "shop-web-setup", {"path": "systems.shop.hosts.web",
                                                     "hostnames": ["shop.example.com"]})
    hcloud.Firewall("shop-web-firewall", name="shop-web", rules=[
        {"direction": "in", "protocol": "tcp", "port": "80", "source_ips": ["0.0.0.0/0", "::/0"]},
        {"direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["203.0.113.0/24"]},
    ], opts=pulumi.ResourceOptions(parent=host))
