"""One resource the real provider refuses, chosen by config `case`: the engine must stop at its Check."""

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
