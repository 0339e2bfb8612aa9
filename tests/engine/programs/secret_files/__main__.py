"""Secret files on a host and the steps that read them, through stackyard's own RemoteSteps.

The engine tests run this against the loopback sshd they start: a generated password (unknown
until `up`), two configured secrets, a step that reads the env file and one that reads the
password. It is the shape of a host's accessories, env files and deploys, without installing
anything on the machine that runs the tests.
"""

import os
import sys

sys.path.insert(0, os.environ["STACKYARD_ROOT"])

import pulumi
import pulumi_random as random

from components.remote_steps import RemoteSteps

config = pulumi.Config()
root = config.require("root")
remote = RemoteSteps("probe", {
    "host": "127.0.0.1",
    "port": config.require_int("port"),
    "user": "root",
    "private_key": config.require_secret("privateKey"),
    "host_key": config.require("hostKey"),
    "dial_error_limit": 3,
})

password = random.RandomPassword("db-password", length=config.get_int("passwordLength") or 24, special=False)
env = pulumi.Output.concat("API_KEY=", config.require_secret("apiKey"), "\n")
password_file = remote.write_secret("password", f"{root}/db.password", password.result)
env_file = remote.write_secret("env", f"{root}/app.env", env)
token_file = remote.write_secret("token", f"{root}/token", config.require_secret("token"))
remote.step("app", f"echo run >> {root}/app.runs\n", after=[env_file], secrets=[env])
remote.step("db", f"echo run >> {root}/db.runs\n", after=[password_file], secrets=[password.result])

pulumi.export("password", password.result)
