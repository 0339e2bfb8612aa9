"""The stand-in plugins under the real engine: a refusal in their Check stops the preview, naming the
property and the reason, as the real provider's would."""

from __future__ import annotations

import pytest

from workspace import ROOT

PROGRAM = ROOT / "tests" / "engine" / "programs" / "refused"


@pytest.mark.parametrize("case,expected", [
    ("proxied-ttl", "a proxied record must have ttl 1"),
    ("no-targets", "at least one of targets or customEnvironmentIds must be set"),
])
def test_a_refused_input_fails_the_preview_with_the_providers_reason(workspace, case: str, expected: str) -> None:
    ws = workspace(program=PROGRAM, standins=True)
    ws.init("refused", config={"stackyard-refused:case": case, "cloudflare:apiToken": "x", "vercel:apiToken": "x"})
    result = ws.run("preview", "--stack", "refused", check=False)
    assert result.returncode != 0
    assert expected in result.output, result.output
    assert "stand-in plugin pulumi-resource-" in result.output
