"""A hostname moved between address records (A, AAAA) and a CNAME, through the real engine (Cloudflare
played by its stand-in, which refuses a CNAME beside an A, AAAA or CNAME of its name, error 81053, as
Cloudflare does).

The engine creates the new record before it deletes the old one, so such a move in one `up` is refused
by Cloudflare, every time, with the old record serving on (round 30): docs/operating.md says to make it
in two. This pins both halves: the one-step move fails naming the record and changes nothing live, and
the two steps apply."""

from __future__ import annotations

import json

from helpers.workspace import errors

from standin.values import plain

ZONE = "0123456789abcdef0123456789abcdef"


def system(*records: dict) -> dict:
    return {"web": {"dns": {"zones": {"example.com": {"zoneId": ZONE}},
                            "records": [{"zone": "example.com", "name": "www", **r} for r in records]}}}


ADDRESSES = ({"type": "A", "content": "203.0.113.7"}, {"type": "AAAA", "content": "2001:db8::7"})
CNAME = {"type": "CNAME", "content": "origin.example.net"}


def held(ws) -> set[str]:
    """type:content of the records the stand-in's Cloudflare holds."""
    out = set()
    for path in (ws.cloud / "cloudflare").rglob("*.json"):
        if "DnsRecord" in str(path.parent):
            inputs = plain(json.loads(path.read_text())["inputs"])
            out.add(f"{inputs['type']}:{inputs['content']}")
    return out


def test_an_address_moved_to_a_cname_is_refused_in_one_up_and_applies_in_two(workspace) -> None:
    ws = workspace(standins=True)
    ws.init("d", config={"stackyard:systems": system(*ADDRESSES), "stackyard:protect": False},
            secrets={"cloudflare:apiToken": "CANARY-cf-81053"})
    assert errors(ws.up("d").json()) == []
    assert held(ws) == {"A:203.0.113.7", "AAAA:2001:db8::7"}
    ws.set_config("d", "systems", system(CNAME))
    done = ws.up("d", check=False)
    assert done.returncode != 0 and "(81053)" in done.output and "www.example.com-cname" in done.output
    assert held(ws) == {"A:203.0.113.7", "AAAA:2001:db8::7"}  # the old records serve on
    # As the docs say: the records go in one up, the CNAME comes in the next.
    ws.set_config("d", "systems", system())
    assert errors(ws.up("d").json()) == [] and held(ws) == set()
    ws.set_config("d", "systems", system(CNAME))
    assert errors(ws.up("d").json()) == [] and held(ws) == {"CNAME:origin.example.net"}
    assert errors(ws.destroy("d").json()) == []
