"""A Hetzner server (the stand-in) and provisioning steps keyed on its ID, as HostProvisioning keys them.

The steps reach the loopback sshd the test starts, whatever the server's address: what is under
test is the plan, that a replaced server (a new ID) runs its steps again, while its place command
(as a service's) is kept and never has its removal run.
"""

import os
import sys

sys.path.insert(0, os.environ["STACKYARD_ROOT"])

import pulumi
import pulumi_hcloud as hcloud

from components.remote_steps import RemoteSteps

config = pulumi.Config()
root = config.require("root")
server = hcloud.Server("box", name="box", server_type="cx22", image=config.require("image"), location="fsn1",
                       opts=pulumi.ResourceOptions(delete_before_replace=True))
remote = RemoteSteps("box-setup", {
    "host": "127.0.0.1", "port": config.require_int("port"), "user": "root",
    "private_key": config.require_secret("privateKey"), "host_key": config.require("hostKey"),
}, machine=server.id)
remote.step("base", f"echo run >> {root}/base.runs\n")
remote.write_secret("token", f"{root}/token", config.require_secret("token"))
remote.run("place", "true", delete=f"echo removed >> {root}/removals", triggers=["place"], per_machine=False)
pulumi.export("server", server.id)
