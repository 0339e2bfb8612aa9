"""The production stack's own services as renderer inputs, so the validators check what ships."""

from __future__ import annotations

from components.model import load_topology
from components.model.host_layout import Paths
from components.render.layout import ServicePlan, plan_from_model
from components.render.runtimes import RUNTIMES

from .harness import every_secret_set, production_config


def seed_plans(paths: Paths = Paths()) -> dict[str, list[ServicePlan]]:
    """runtime -> the production services using it: compose (mehko, behind Caddy), pm2 (productivity,
    behind nginx), systemd (material kai, three instances behind nginx)."""
    config = production_config()
    values = {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("stackyard:")}
    topology = load_topology(values, every_secret_set, runtimes=RUNTIMES)
    plans: dict[str, list[ServicePlan]] = {"compose": [], "pm2": [], "systemd": []}
    for system in topology.systems.values():
        for name, service in system.services.items():
            plans[service.runtime].append(plan_from_model(name, service, paths))
    return plans
