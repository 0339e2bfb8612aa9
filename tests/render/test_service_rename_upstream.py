"""A service renamed (a new name, the same hostnames) keeps its hostnames served: its new upstream starts
as the one that served them after the last proxy step, its former self's, which runs until its removal
at the end of the update, and its first deploy switches them. A fresh upstream would have routed them to
slots nothing listens on yet, a 502 from the proxy step until that deploy ended."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from components.model.host_layout import Paths
from components.render.layout import ServicePlan
from components.render.provision import hostname_map, initial_upstreams
from components.render.proxy import upstream_file
from components.render.scripts import shell

HOST = "api.example.com"


def plans(tmp_path: Path) -> tuple[Paths, ServicePlan, ServicePlan]:
    paths = Paths(etc=str(tmp_path / "etc"))
    (tmp_path / "etc" / "upstreams").mkdir(parents=True)
    old = ServicePlan(name="api", runtime="systemd", repo="r", ref="main", port=8000, hostnames=(HOST,), paths=paths)
    new = ServicePlan(name="backend", runtime="systemd", repo="r", ref="main", port=8100, hostnames=(HOST,),
                      paths=paths)
    return paths, old, new


def proxy_step(paths: Paths, proxy: str, served: dict[str, tuple[str, ...]], upstreams: dict[str, str]) -> str:
    """What the proxy step does with upstreams: create the missing ones, then (after the reload) the map."""
    script = initial_upstreams(upstreams, served, paths) + hostname_map(served, paths)
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stderr


def served_color(paths: Paths, plan: ServicePlan, proxy: str) -> str:
    ports = " ".join(map(str, plan.slot_ports("blue")))
    green = " ".join(map(str, plan.slot_ports("green")))
    script = (f"UPSTREAM={paths.upstream(plan.name, proxy)}\nBLUE_PORTS=({ports})\nGREEN_PORTS=({green})\n"
              + shell("proxy.sh") + "served_color\n")
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize("proxy", ["nginx", "caddy"])
def test_a_renamed_service_s_upstream_starts_as_its_former_self_s(proxy: str, tmp_path: Path) -> None:
    paths, old, new = plans(tmp_path)
    old_path, new_path = paths.upstream(old.name, proxy), paths.upstream(new.name, proxy)
    proxy_step(paths, proxy, {old_path: old.hostnames}, {old_path: upstream_file(old, proxy)})
    # The old service's deploys moved it to its green slot since.
    Path(old_path).write_text(upstream_file(old, proxy, "green"))

    said = proxy_step(paths, proxy, {new_path: new.hostnames}, {new_path: upstream_file(new, proxy)})

    green = [f"127.0.0.1:{port}" for port in old.slot_ports("green")]
    text = Path(new_path).read_text()
    assert all(address in text for address in green), text
    assert all(str(port) not in text for port in new.slot_ports("blue")), text
    if proxy == "nginx":
        assert text.startswith("upstream stackyard_backend {\n") and text.endswith("}\n")
    assert "which served its hostnames" in said
    # The new service's first deploy sees a process that is not one of its slots: it deploys and switches.
    assert served_color(paths, new, proxy) == "legacy"
    assert f"{HOST} {new_path}" in Path(paths.etc, "upstreams", "hostnames").read_text()


@pytest.mark.parametrize("map_line", ["{host} /etc/passwd", "{host} {etc}/upstreams/../../outside.nginx",
                                      "{host} {new}", "other.example.com {old}", ""])
def test_an_upstream_from_nowhere_else_starts_at_the_service_s_blue_slot(map_line: str, tmp_path: Path) -> None:
    paths, old, new = plans(tmp_path)
    old_path, new_path = paths.upstream(old.name, "nginx"), paths.upstream(new.name, "nginx")
    Path(old_path).write_text(upstream_file(old, "nginx", "green"))
    (tmp_path / "outside.nginx").write_text("upstream x {\n    server 127.0.0.1:9;\n}\n")
    Path(paths.etc, "upstreams", "hostnames").write_text(
        map_line.format(host=HOST, etc=paths.etc, new=new_path, old=old_path) + "\n")

    proxy_step(paths, "nginx", {new_path: new.hostnames}, {new_path: upstream_file(new, "nginx")})

    assert Path(new_path).read_text() == upstream_file(new, "nginx")


def test_an_upstream_already_there_is_the_deploys_and_is_left_alone(tmp_path: Path) -> None:
    paths, old, new = plans(tmp_path)
    old_path, new_path = paths.upstream(old.name, "nginx"), paths.upstream(new.name, "nginx")
    Path(old_path).write_text(upstream_file(old, "nginx", "green"))
    Path(paths.etc, "upstreams", "hostnames").write_text(f"{HOST} {old_path}\n")
    Path(new_path).write_text(upstream_file(new, "nginx", "green"))  # the new service deployed already

    proxy_step(paths, "nginx", {new_path: new.hostnames}, {new_path: upstream_file(new, "nginx")})

    assert Path(new_path).read_text() == upstream_file(new, "nginx", "green")


@pytest.mark.parametrize("case", ["hostnames from two services", "an old hostname and a new one",
                                  "the other proxy's upstream"])
def test_an_upstream_is_taken_over_only_from_one_that_served_every_hostname(case: str, tmp_path: Path) -> None:
    """Merging two services into one, or adding a hostname while taking one over, would have sent every
    hostname of the new service to one old service's process (the fourteenth review)."""
    paths = Paths(etc=str(tmp_path / "etc"))
    (tmp_path / "etc" / "upstreams").mkdir(parents=True)
    shop = ServicePlan(name="shop", runtime="systemd", repo="r", ref="main", port=8000,
                       hostnames=("shop.example.com",), paths=paths)
    admin = ServicePlan(name="admin", runtime="systemd", repo="r", ref="main", port=8100,
                        hostnames=("admin.example.com",), paths=paths)
    hostnames = {"hostnames from two services": ("shop.example.com", "admin.example.com"),
                 "an old hostname and a new one": ("shop.example.com", "new.example.com"),
                 "the other proxy's upstream": ("shop.example.com",)}[case]
    portal = ServicePlan(name="portal", runtime="systemd", repo="r", ref="main", port=8200, hostnames=hostnames,
                         paths=paths)
    old_kind = "nginx" if case == "the other proxy's upstream" else "caddy"
    served = {paths.upstream(p.name, old_kind): p.hostnames for p in (shop, admin)}
    proxy_step(paths, old_kind, served, {paths.upstream(p.name, old_kind): upstream_file(p, old_kind)
                                          for p in (shop, admin)})
    new_path = paths.upstream(portal.name, "caddy")

    proxy_step(paths, "caddy", {new_path: portal.hostnames}, {new_path: upstream_file(portal, "caddy")})

    assert Path(new_path).read_text() == upstream_file(portal, "caddy")
