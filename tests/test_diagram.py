"""The topology diagram (components/render/diagram.py): Graphviz's own parse of it (`dot -Tjson`) has the
structure of each system, no value of any variable appears in it, and docs/ holds the current one."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess

import pytest
from helpers.harness import ROOT, every_secret_set, production_config

from components.model import load_topology
from components.render.diagram import topology_dot
from components.render.runtimes import RUNTIMES
from components.stack_file import topology_from_file

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="dot (Graphviz) not installed: make system-deps")


def parsed(dot_text: str) -> tuple[dict[str, dict], list[tuple[str, str]], dict[str, list[str]]]:
    """(nodes by name, edges as name pairs, cluster -> node names), as Graphviz read the file."""
    done = subprocess.run(["dot", "-Tjson"], input=dot_text, capture_output=True, text=True, check=True)
    graph = json.loads(done.stdout)
    objects = graph["objects"]
    nodes = {o["name"]: o for o in objects if "nodes" not in o}
    clusters = {o["name"]: [objects[i]["name"] for i in o.get("nodes", [])] for o in objects if "nodes" in o}
    edges = [(objects[e["tail"]]["name"], objects[e["head"]]["name"]) for e in graph.get("edges", [])]
    return nodes, edges, clusters


@pytest.fixture(scope="module")
def production_dot() -> str:
    return topology_dot(topology_from_file(ROOT / "Pulumi.production.yaml"), "production")


def test_each_system_holds_its_hosts_services_and_the_rest(production_dot: str) -> None:
    nodes, edges, clusters = parsed(production_dot)
    assert sorted(c for c in clusters if c.count("_") == 1) == ["cluster_material-kai", "cluster_mehko",
                                                              "cluster_productivity"]
    assert clusters["cluster_mehko_api"] == ["mehko/api/proxy", "mehko/api/service/api-gateway",
                                             "mehko/api/service/ai-server", "mehko/api/service/fastapi-worker"]
    assert set(clusters["cluster_productivity_app"]) == {
        "productivity/app/proxy", "productivity/app/mysql", "productivity/app/redis", "productivity/app/backups",
        "productivity/app/service/flask-backend", "productivity/app/service/podfactory-sync"}
    assert {"material-kai/supabase", "material-kai/github/mivaa-pdf-extractor",
            "material-kai/github/material-kai-vision-platform", "material-kai/frontend/web"} <= set(nodes)
    by_system = {}
    for tail, head in edges:
        by_system.setdefault(tail.split("/")[0], set()).add((tail, head))
    assert by_system["mehko"] == {
        ("mehko/dns/0", "mehko/api/proxy"), ("mehko/frontend/web", "mehko/dns/0"),
        *{("mehko/api/proxy", f"mehko/api/service/{s}") for s in ("api-gateway", "ai-server", "fastapi-worker")}}
    assert by_system["productivity"] == {
        ("productivity/app/proxy", "productivity/app/service/flask-backend"),
        ("productivity/app/service/flask-backend", "productivity/app/mysql"),
        ("productivity/app/service/flask-backend", "productivity/app/redis"),
        ("productivity/app/service/podfactory-sync", "productivity/app/mysql")}
    assert ("material-kai/dns/1", "material-kai/mivaa/proxy") in by_system["material-kai"]  # AAAA -> the host
    assert ("material-kai/github/mivaa-pdf-extractor", "material-kai/mivaa/proxy") in by_system["material-kai"]


def test_labels_name_what_matters(production_dot: str) -> None:
    nodes, _, _ = parsed(production_dot)
    assert "systemd, :8000, 3 instances" in nodes["material-kai/mivaa/service/mivaa"]["label"]
    assert "Hetzner cx22, fsn1" in production_dot and "DigitalOcean s-2vcpu-4gb, fra1" in production_dot
    assert "VITE_OPENAI_API_KEY*" in nodes["material-kai/frontend/web"]["label"]  # a secret, marked
    assert "NODE_ENV," in nodes["material-kai/frontend/web"]["label"]  # a plain variable, by name


def test_no_value_of_any_variable_or_secret_appears() -> None:
    config = copy.deepcopy(production_config())
    systems = config["stackyard:systems"]
    systems["mehko"]["services"]["ai-server"]["env"]["OPENAI_ASSISTANT_ID"] = "CANARY-plain-value-1"
    systems["material-kai"]["frontends"]["web"]["env"]["production"]["SUPABASE_URL"] = "CANARY-plain-value-2"
    values = {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("stackyard:")}
    topology = load_topology(values, every_secret_set, runtimes=RUNTIMES)
    text = topology_dot(topology, "production")
    assert "CANARY" not in text
    assert "secure" not in text and "v1:" not in text
    encrypted = {v["secure"] for v in config.values() if isinstance(v, dict) and "secure" in v}
    assert encrypted and not any(e in text for e in encrypted)


def test_the_diagram_in_docs_is_the_current_one(production_dot: str) -> None:
    assert (ROOT / "docs" / "topology-production.dot").read_text() == production_dot, (
        "run: make diagram STACK=production")
    assert (ROOT / "docs" / "topology-production.png").stat().st_size > 50_000
