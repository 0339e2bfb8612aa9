"""Process definitions per runtime: systemd units, PM2 ecosystem files, compose files.

Each is rendered once per slot (blue, green); the deploy script starts one slot and stops the
other. Secrets are never in these files: they name the 0600 environment file instead.
"""

from __future__ import annotations

import json

import yaml

from .docker import NETWORK, health_probe
from .layout import ServicePlan
from .logs import log_directories
from .quoting import env_double_quoted, env_json, systemd_word
from .sandbox import SERVICE_SANDBOX


def writable_paths(plan: ServicePlan) -> str:
    """ReadWritePaths= of the service: its data (shared/), its releases (apps that write beside their code),
    its state directory (HOME: caches, PM2, gunicorn's socket) and its log directories."""
    paths = [f"{plan.paths.app(plan.name)}/shared", f"{plan.paths.app(plan.name)}/releases",
             plan.paths.state(plan.name), *(f"-{d}" for d in log_directories(plan))]
    return "ReadWritePaths=" + " ".join(paths)


def systemd_unit(plan: ServicePlan, color: str) -> str:
    """A template unit (``<unit>-<color>@<port>.service``), or a plain one for a worker without port.

    Root reads the EnvironmentFile before dropping to the service user, so it stays root-only 0600.
    """
    if not plan.command:
        raise ValueError(f"service {plan.name}: systemd needs a command")
    slot = f"{plan.paths.app(plan.name)}/slots/{color}"
    port_line = ["Environment=PORT=%i"] if plan.port is not None else []
    lines = [
        "[Unit]",
        f"Description={plan.name} ({color} slot{', port %i' if plan.port is not None else ''}), managed by stackyard",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={plan.user}",
        f"Group={plan.user}",
        f"WorkingDirectory={slot}",
        f"EnvironmentFile={plan.paths.slot(plan.name, color)}/env",
        *port_line,
        f"Environment=PATH={slot}/.venv/bin:/usr/local/bin:/usr/bin:/bin",
        f"ExecStart=/bin/sh -c {systemd_word('exec ' + plan.command)}",
        "Restart=always",
        "RestartSec=2",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=30",
        *SERVICE_SANDBOX,
        "SystemCallFilter=@system-service",
        writable_paths(plan),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def systemd_unit_name(plan: ServicePlan, color: str) -> str:
    return f"{plan.unit}-{color}{'@' if plan.port is not None else ''}.service"


def definition_path(plan: ServicePlan, color: str) -> str:
    """Where the process definition of one slot lives: a systemd unit, a PM2 ecosystem file or a compose file."""
    if plan.runtime == "systemd":
        return f"{plan.paths.systemd}/{systemd_unit_name(plan, color)}"
    name = "ecosystem.{}.config.js" if plan.runtime == "pm2" else "compose.{}.yml"
    return f"{plan.paths.etc}/{plan.name}/{name.format(color)}"


def pm2_unit(plan: ServicePlan) -> str:
    """The service's PM2 daemon, run by systemd (what `pm2 startup` would write): the deploy starts the
    daemon through this unit, so its processes live in the unit's cgroup, are supervised, and come
    back after a reboot from the dump `pm2 save` wrote."""
    home = plan.paths.state(plan.name)
    pm2_home = plan.paths.pm2_home(plan.name)
    return "\n".join([
        "[Unit]",
        f"Description=PM2 processes of {plan.name}, managed by stackyard",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=forking",
        f"User={plan.user}",
        f"Group={plan.user}",
        f"WorkingDirectory={home}",
        f"Environment=HOME={home}",
        f"Environment=PM2_HOME={pm2_home}",
        "Environment=PATH=/usr/local/bin:/usr/bin:/bin",
        f"PIDFile={pm2_home}/pm2.pid",
        "LimitNOFILE=65536",
        "ExecStart=/usr/bin/env pm2 resurrect",
        "ExecReload=/usr/bin/env pm2 reload all",
        "ExecStop=/usr/bin/env pm2 kill",
        "Restart=on-failure",
        # PM2's logs and whatever its processes write: the service's user and group only (UMask=0027).
        *SERVICE_SANDBOX,
        "SystemCallFilter=@system-service @pkey",
        "RemoveIPC=yes",
        writable_paths(plan),
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]) + "\n"


def pm2_ecosystem(plan: ServicePlan, color: str) -> str:
    """A CommonJS ecosystem file. It reads the 0600 env file when PM2 loads it, so values stay out of
    the file itself; ``pm2 reload`` picks up changes with ``--update-env``."""
    if not plan.command:
        raise ValueError(f"service {plan.name}: pm2 needs a command")
    slot = f"{plan.paths.app(plan.name)}/slots/{color}"
    apps = []
    ports = plan.slot_ports(color) or [None]
    for i, port in enumerate(ports):
        app = {
            "name": f"{plan.name}-{color}-{i}",
            "cwd": slot,
            "script": "/bin/sh",
            "args": ["-c", f"exec {plan.command}"],
            "interpreter": "none",
            "autorestart": True,
            "kill_timeout": 30000,
            "max_restarts": 50,
            "env": {"PORT": str(port)} if port is not None else {},
        }
        apps.append(app)
    return (
        "// Generated by stackyard: one slot of " + plan.name + ". Secrets come from the env file at load time.\n"
        "const fs = require('fs');\n"
        f"const envFile = {json.dumps(plan.paths.slot(plan.name, color) + '/env')};\n"
        "const fromFile = {};\n"
        "if (fs.existsSync(envFile)) {\n"
        "  for (const line of fs.readFileSync(envFile, 'utf8').split('\\n')) {\n"
        "    const match = line.match(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);\n"
        "    if (match) fromFile[match[1]] = JSON.parse(match[2]);\n"
        "  }\n"
        "}\n"
        f"const apps = {json.dumps(apps, indent=2)};\n"
        "for (const app of apps) app.env = Object.assign({}, fromFile, app.env);\n"
        "module.exports = { apps };\n"
    )


def compose_file(plan: ServicePlan, color: str, mounts: list[str] | tuple[str, ...] = (), *,
                 hosts: list[str] | tuple[str, ...] = ()) -> str:
    """One compose project per slot, built from the release (the service's build context and
    Dockerfile), published on loopback, on the host's containers' network.

    ``hosts``: ``name:address`` of the host's services (docker.extra_hosts), so that a container calls
    another service by its name and port, through the proxy, whichever slot is live. ``mounts`` are
    the service's secret files (absolute container paths), mounted read-only from the host's copies,
    never copied into the build context or the image: root's, readable by the service's group, which
    every container gets as a supplementary group (``STACKYARD_SERVICE_GID``, set by the deploy), so
    that an image running as a non-root USER reads them too."""
    container_port = plan.container_port or plan.port
    services = {}
    ports = plan.slot_ports(color) or [None]
    for i, port in enumerate(ports):
        # The slot's image is built once, by its first instance; the others run it. Each building the
        # same tag, the builds raced to export it ("already exists"), seen with Ubuntu 24.04's compose.
        service: dict = {
            **({"build": {"context": plan.build_context, "dockerfile": plan.dockerfile}} if i == 0
               else {"pull_policy": "never"}),
            "image": f"stackyard/{plan.name}:{color}",
            "restart": "unless-stopped",
            "env_file": [f"{plan.paths.slot(plan.name, color)}/env"],
            "stop_grace_period": "30s",
            "init": True,
            "security_opt": ["no-new-privileges:true"],
            "logging": {"driver": "journald"},
            "networks": [NETWORK],
        }
        if hosts:
            service["extra_hosts"] = list(hosts)
        if mounts:
            files = f"{plan.paths.slot(plan.name, color)}/files"
            service["volumes"] = [f"{files}/{path.lstrip('/')}:{path}:ro" for path in mounts]
            service["group_add"] = ["${STACKYARD_SERVICE_GID:?set by the deploy script}"]
        if port is not None:
            service["ports"] = [f"127.0.0.1:{port}:{container_port}"]
            service["environment"] = {"PORT": str(container_port)}
            if plan.health_path is not None:
                probe = plan.health_command or health_probe(f"http://127.0.0.1:{container_port}{plan.health_path}",
                                                            plan.health_timeout)
                service["healthcheck"] = {
                    "test": ["CMD-SHELL", compose_literal(probe)],
                    "interval": f"{plan.health_interval}s",
                    "timeout": f"{plan.health_timeout}s",
                    "retries": 3,
                    "start_period": f"{plan.health_interval * plan.health_retries}s",
                }
        services[f"{plan.name}-{i}"] = service
    return "# Generated by stackyard: the " + color + " slot of " + plan.name + ".\n" + yaml.safe_dump(
        {"name": f"{plan.name}-{color}", "services": services, "networks": {NETWORK: {"external": True}}},
        sort_keys=False)


def compose_literal(text: str) -> str:
    """``text`` as compose reads it back unchanged from its compose file, where it expands ``$NAME`` and
    reads ``$$`` as one ``$``."""
    return text.replace("$", "$$")


def env_file(values: dict[str, str], runtime: str) -> str:
    """The service's env file in the form its runtime reads back unchanged: ``KEY="..."`` for systemd's
    EnvironmentFile= and Compose's env_file (components/render/quoting.py), ``KEY=<JSON>`` for the PM2
    ecosystem's loader."""
    line = env_json if runtime == "pm2" else env_double_quoted
    return "".join(line(key, value) for key, value in sorted(values.items()))
