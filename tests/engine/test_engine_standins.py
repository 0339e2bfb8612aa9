"""The stand-in plugins under the real engine: a refusal in their Check stops the preview, naming the
property and the reason, as the real provider's would: a hand-written rule's, or a misfit of the pinned
provider schema's (a wrong type, a missing required property, an unexpected argument)."""

from __future__ import annotations

import pytest
from helpers.workspace import ROOT

PROGRAM = ROOT / "tests" / "engine" / "programs" / "refused"


@pytest.mark.parametrize("case,expected", [
    ("proxied-ttl", ["a proxied record must have ttl 1"]),
    ("no-targets", ["at least one of targets or customEnvironmentIds must be set"]),
    ("schema-type", ["property publicNets[0].ipv4Enabled value {<nil>} has a problem: "
                     "expected boolean type, got string type"]),
    ("schema-required", ["property serverType value {<nil>} has a problem: missing required property 'serverType'",
                         "property backup value {true} has a problem: an unexpected argument \"backup\" was provided"]),
])
def test_a_refused_input_fails_the_preview_with_the_providers_reason(workspace, case: str,
                                                                      expected: list[str]) -> None:
    ws = workspace(program=PROGRAM, standins=True)
    ws.init("refused", config={"stackyard-refused:case": case, "cloudflare:apiToken": "x", "vercel:apiToken": "x",
                                  "hcloud:token": "x" * 64})
    result = ws.run("preview", "--stack", "refused", check=False)
    assert result.returncode != 0
    for fragment in expected:
        assert fragment in result.output, result.output
    assert "stand-in plugins for" in result.output
