"""docs/getting-started.md, run as written: every `sh` block of the page, in order, in one bash, in a
copy of the repository as a fresh clone has it, through the real `pulumi` and the stand-ins (offline:
the engine tier runs in a network namespace of its own). The page's claims about the preview are
checked on its output: what it creates, the firewall it opens, one stand-in warning, no secret shown."""

from __future__ import annotations

import json
import re
import subprocess
import time

from helpers.workspace import ROOT, repository_copy

PAGE = ROOT / "docs" / "getting-started.md"


def page_commands() -> list[str]:
    """The page's `sh` blocks, in order (a `console` block is shown, not run)."""
    return re.findall(r"^```sh\n(.*?)^```$", PAGE.read_text(), re.S | re.M)


def test_the_first_stack_page_runs_as_written_to_a_clean_preview(pulumi_bin, tmp_path) -> None:
    blocks = page_commands()
    assert len(blocks) >= 5, "the page lost its commands"
    copy, env = repository_copy(tmp_path, pulumi_bin)
    started = time.monotonic()
    # After the page: the same preview as JSON, in the page's shell, for what its text does not show.
    inputs = 'PATH="$PWD/.standin-bin:$PATH" pulumi preview --stack mine --json > .pulumi-state/preview.json'
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join([*blocks, inputs])], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=900)
    output = done.stdout + done.stderr
    print(f"the page's commands, fresh copy to preview: {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, output[-5000:]
    assert "Traceback" not in output, output[-5000:]
    # What the page says the preview shows.
    for planned in ("hcloud:index:Server", "hcloud:index:Firewall", "cloudflare:index:DnsRecord",
                    "stackyard:index:HostProvisioning"):
        assert re.search(rf"^ \+\s+{re.escape(planned)} \S+ create", output, re.M), f"{planned}:\n{output[-5000:]}"
    steps = json.loads((copy / ".pulumi-state" / "preview.json").read_text())["steps"]
    firewall = next(s["newState"]["inputs"] for s in steps if s["newState"]["type"] == "hcloud:index/firewall:Firewall")
    opened = {(rule.get("port"), tuple(rule.get("sourceIps", []))) for rule in firewall["rules"]}
    assert {("80", ("0.0.0.0/0", "::/0")), ("443", ("0.0.0.0/0", "::/0")), ("22", ("203.0.113.0/24",))} <= opened
    assert len(re.findall(r"warning: stand-in plugins for", output)) <= 2  # once live, once in the summary
    # No secret the page set is in the output: the deploy key, the passphrase.
    key = (copy / ".pulumi-state" / "shop-deploy-key").read_text().splitlines()[1]
    assert key not in output
    assert (copy / ".pulumi-state" / "mine.passphrase").read_text().strip() not in output
    # The stack file holds the secrets encrypted, and the stack's config reads them back.
    stack_file = (copy / "Pulumi.mine.yaml").read_text()
    assert key not in stack_file and "secure: v1:" in stack_file
