"""The scripts of one service on its host: its deploy and its removal.

Their fixed logic lives in shell files beside this module (components/render/shell/), which shellcheck
reads as they are; Python renders only each script's header, quoted ``NAME=value`` lines, and chooses
the pieces: the runtime's (runtime-<runtime>.sh), the proxy's (proxy-<proxy>.sh) and the main body.
"""

from __future__ import annotations

from ..model.host_layout import COLORS
from .layout import ServicePlan
from .logs import logrotate_path
from .proxy import upstream_name
from .quoting import sh, sh_array, sh_assignments, sh_path
from .runtimes import definition_path, runtime_of
from .scripts import HEADER, shell
from .trusted_paths import ROOT_ONLY


def staged_path(plan: ServicePlan, color: str) -> str:
    """Where the setup step writes a slot's process definition; the deploy installs it from there when it
    starts that slot, so that a definition of a release that never served never reaches a running one."""
    return f"{plan.paths.etc}/{plan.name}/staged/{definition_path(plan, color).rsplit('/', 1)[1]}"


def service_header(plan: ServicePlan, proxy: str | None) -> str:
    """The variables every script of the service reads: names, paths (under ``$ROOT``, which tests point
    into a scratch directory), ports."""
    etc = f"{plan.paths.etc}/{plan.name}"
    paths = {
        "BASE": plan.paths.app(plan.name),
        "ETC": etc,
        "STATE": plan.paths.state(plan.name),
        "DEFINITION_BLUE": definition_path(plan, "blue"),
        "DEFINITION_GREEN": definition_path(plan, "green"),
        "UPSTREAM": plan.paths.upstream(plan.name, proxy) if proxy and plan.port is not None else None,
        "LOGROTATE": logrotate_path(plan),
        "WATCHDOG_STATE": f"{plan.paths.var}/watchdog/{plan.name}",
        "WATCHDOG": plan.watchdog_path,
    }
    if proxy == "nginx" and plan.port is not None:
        # Where the site reads certificates, and where one waits while certbot makes another.
        paths.update({"CERTS": plan.paths.certs, "SET_ASIDE": plan.paths.set_aside,
                      "CERTIFICATES_LOCK": plan.paths.certificates_lock})
    return (
        "# The names every script of the service may read; not each reads them all.\n"
        "# shellcheck disable=SC2034\n{\n"
        "ROOT=${STACKYARD_ROOT:-}\n"
        + sh_assignments({"APP": plan.name, "RUNTIME": plan.runtime, "UNIT": plan.unit, "SERVICE_USER": plan.user,
                          "UPSTREAM_NAME": upstream_name(plan),
                          "PM2_HOME": plan.paths.pm2_home(plan.name), "WATCHDOG_UNIT": plan.watchdog_unit})
        + "".join(f"{name}={sh_path(path)}\n" if path else f"{name}=\n" for name, path in paths.items())
        + f"BLUE_PORTS={sh_array(plan.slot_ports('blue'))}\n"
        + f"GREEN_PORTS={sh_array(plan.slot_ports('green'))}\n"
        + sh_assignments({"COMPOSE_WAIT": plan.health_interval * plan.health_retries + plan.health_timeout + 60,
                          "BUILD_CONTEXT": plan.build_context, "DOCKERFILE": plan.dockerfile})
        + "}\n"
    )


def _proxy_pieces(plan: ServicePlan, proxy: str | None) -> str:
    if proxy is None or plan.port is None:
        return shell("proxy-none.sh")
    aside = shell("certificates-aside.sh") if proxy == "nginx" else ""
    return aside + shell(f"proxy-{proxy}.sh") + shell("proxy.sh")


def _prepare_release(plan: ServicePlan) -> str:
    """prepare_release DIR: the runtime's steps in a new release, then the service's own, as its user."""
    steps = []
    if plan.language == "python":
        steps.append("uv venv --quiet .venv")
        steps.append("if [ -f requirements.txt ]; then uv pip install --quiet --python .venv/bin/python "
                     "-r requirements.txt; fi")
    elif plan.language == "node":
        steps.append("if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit "
                     "--no-fund; fi")
    steps += list(plan.install)
    body = "".join(f"  in_release \"$1\" {sh(step)}\n" for step in steps) or "  :\n"
    # Each step is shell for the service's user to run, quoted whole: nothing in it expands here.
    return f"# shellcheck disable=SC2016\nprepare_release() {{\n{body}}}\n"


def deploy_script(plan: ServicePlan, proxy: str | None) -> str:
    """The script `pulumi up` runs (as root) to deploy ``plan.ref``; also the rollback command.

    ``deploy [--restart] [REF]``: REF is any branch, tag or commit (default ``plan.ref``); deploying an
    older one is a rollback. The release starts again in the other slot when its commit or its settings
    (env file, process definitions, secret files) changed since it started; otherwise nothing happens.
    ``--restart`` starts it again in the other slot even if nothing changed."""
    runtime = runtime_of(plan.runtime)
    header = sh_assignments({
        "REPO": plan.repo,
        "DEFAULT_REF": plan.ref,
        "GIT_SSH": plan.git_ssh,
        "KEEP": plan.keep_releases,
        "HEALTH_PATH": plan.health_path or "",
        "HEALTH_RETRIES": plan.health_retries,
        "HEALTH_INTERVAL": plan.health_interval,
        "HEALTH_TIMEOUT": plan.health_timeout,
        # Who reads a slot's env file, and whose the secret files are (components/render/runtimes/).
        "ENV_MODE": "0640" if runtime.env_readers == "group" else "0600",
        "ENV_GROUP": plan.user if runtime.env_group_is_service else "root",
        "SLOT_FILES": "yes" if runtime.files_in_slot else "no",
        "RELEASE_FILES": "no" if runtime.files_in_slot else "yes",
        "RELEASE_OWNER": runtime.release_owner,
        # The shell's LEGACY_* names are the replaced process's (`replaces:`): renamed, they would change
        # every host's deploy script, and so run every deploy again on the next up, for a word.
        "LEGACY_PM2_HOME": plan.replaced_pm2_home,
    })
    return (
        HEADER
        + f"# Deploys {plan.name}: see the comments below and components/render/deploy.py.\n"
        + service_header(plan, proxy)
        + f"ENV_FILE={sh_path(plan.paths.env_file(plan.name))}\n"
        + f"FILES={sh_path(plan.paths.secret_file(plan.name, ''))}\n"
        + header
        + f"LEGACY_PM2={sh_array(plan.replaced_pm2)}\n"
        + f"LEGACY_UNITS={sh_array(plan.replaced_units)}\n"
        # The runtime's own files the setup step installs as they are (PM2's daemon unit): a slot is started
        # with them too.
        + "RUNTIME_FILES=(" + " ".join(sh_path(path) for path in sorted(runtime.host_files(plan, plan.paths)))
        + ")\n"
        + shell("common.sh")
        + runtime.script
        + _proxy_pieces(plan, proxy)
        + (ROOT_ONLY if plan.replaced_pm2 else "")
        + shell("retire.sh")
        + _prepare_release(plan)
        + _release_phase(plan)
        + shell("deploy.sh")
    )


def _release_phase(plan: ServicePlan) -> str:
    """The release phase's commands (RELEASE), the env file it runs with and the env keys whose values its
    output masks: components/render/shell/release.sh. A service without one has none (deploy.sh runs the
    phase only when RELEASE holds a command)."""
    if not plan.release:
        return "RELEASE=()\n"
    # Each command is shell for the service's user to run, quoted whole: nothing in it expands here.
    return ("# shellcheck disable=SC2016\n"
            f"RELEASE={sh_array(plan.release)}\n"
            + f"RELEASE_ENV={sh_path(plan.paths.release_env_file(plan.name))}\n"
            + f"RELEASE_SECRETS={sh_array(plan.secret_env_keys)}\n"
            + shell("release.sh"))


def removal_script(plan: ServicePlan, proxy: str | None) -> str:
    """What `pulumi up` runs (as root) when a service leaves the stack (components/render/shell/remove.sh)."""
    return (HEADER + f"# Removes {plan.name} from this host: stops it, keeps its data.\n"
            + service_header(plan, proxy) + shell("common.sh") + runtime_of(plan.runtime).script
            + shell("remove.sh"))


__all__ = ["COLORS", "deploy_script", "removal_script", "service_header", "shell", "staged_path"]
