"""Vercel, as pulumiverse-vercel answers for projects, their env vars and domains."""

from __future__ import annotations

from typing import Any

from ..values import known
from . import Cloud, Failure, Kind, kinds, matches, prefixed_id, token_set

NAME = "vercel"
TARGETS = ("production", "preview", "development")
FRAMEWORKS = ("nextjs", "vite", "create-react-app", "nuxtjs", "sveltekit", "sveltekit-1", "astro", "remix", "gatsby",
              "angular", "vue", "svelte", "solidstart", "hugo", "eleventy", "docusaurus-2", "ember", "hydrogen",
              "preact", "redwoodjs", "storybook", "vitepress", "vuepress", "blitzjs", "parcel", "polymer", "jekyll",
              "zola", "other")


def project(values: dict[str, Any]) -> list[Failure]:
    failures = []
    name = values.get("name")
    if known(name) and "---" in name:
        failures.append(("name", "a project name cannot contain '---'"))
    framework = values.get("framework")
    if known(framework) and framework not in FRAMEWORKS:
        failures.append(("framework", f"unknown framework {framework!r}"))
    repo = values.get("gitRepository")
    if repo:
        if repo.get("type") not in ("github", "gitlab", "bitbucket"):
            failures.append(("gitRepository.type", "expected github, gitlab or bitbucket"))
        if known(repo.get("repo")) and "/" not in str(repo.get("repo")):
            failures.append(("gitRepository.repo", "expected owner/name"))
    return failures


def env_targets(values: dict[str, Any]) -> list[Failure]:
    targets = values.get("targets")
    failures = []
    if not targets and not values.get("customEnvironmentIds"):
        failures.append(("targets", "at least one of targets or customEnvironmentIds must be set"))
    for i, target in enumerate(targets or []):
        if known(target) and target not in TARGETS:
            failures.append((f"targets[{i}]", f"expected one of {', '.join(TARGETS)}; got {target!r}"))
    if values.get("sensitive") and "development" in (targets or []):
        failures.append(("sensitive", "sensitive environment variables cannot target development"))
    return failures


def one_key_per_target(mine: dict[str, Any], other: dict[str, Any]) -> str | None:
    """Vercel holds one variable of a key per target of a project (its API's refusal, in its words)."""
    if mine.get("projectId") != other.get("projectId") or mine.get("key") != other.get("key"):
        return None
    both = sorted(set(mine.get("targets") or ()) & set(other.get("targets") or ()))
    return f"A variable with the name `{mine.get('key')}` already exists for the target {both}" if both else None


def cloud() -> Cloud:
    return Cloud(
        name=NAME, title="Vercel", package="pulumiverse_vercel",
        config_rules=(token_set("apiToken", "VERCEL_API_TOKEN", "vercel:apiToken"),),
        kinds=kinds(
            Kind("vercel:index/project:Project", required=("name",), replace_on=("teamId",),
                 rules=(matches("name", r"[a-z0-9._-]{1,100}", "a project name (lowercase, at most 100 characters)"),
                        project),
                 new_id=prefixed_id("prj_")),
            Kind("vercel:index/projectEnvironmentVariable:ProjectEnvironmentVariable",
                 required=("value",), replace_on=("projectId", "teamId"),
                 rules=(matches("key", r"[A-Za-z_][A-Za-z0-9_]*", "a variable name"), env_targets),
                 new_id=prefixed_id("env_"), clash=one_key_per_target),
            Kind("vercel:index/projectDomain:ProjectDomain", replace_on=("projectId", "domain", "teamId"),
                 new_id=lambda name, inputs: str(inputs.get("domain")),
                 computed=lambda id_, name, inputs: {"verified": True}),
        ),
    )
