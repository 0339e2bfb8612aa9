"""Rules for GitHub Actions secrets a system writes."""

from __future__ import annotations

from .. import formats
from ..topology import System
from .findings import Findings


def check_github(rules: Findings, path: str, system: System) -> None:
    github = system.github
    if github is None:
        return
    for repo, spec in (github.repositories or {}).items():
        rpath = f"{path}.github.repositories.{repo}"
        if formats.repository(f"{github.owner}/{repo}"):
            rules.fail(rpath, f"'{github.owner}/{repo}' is not a valid GitHub repository name")
        # GitHub compares repository and secret names without case: two spellings are one repository,
        # one secret, and each entry would write it and, removed, delete it under the other.
        twin = next((other for other in github.repositories or {}
                     if other != repo and other.lower() == repo.lower()), None)
        if twin is not None:
            rules.fail(rpath, f"is repository {twin} too (GitHub ignores case): keep one")
        if spec is None:
            continue
        for key, value in (spec.secrets or {}).items():
            spath = f"{rpath}.secrets.{key}"
            if key.upper().startswith("GITHUB_"):
                rules.fail(spath, "GitHub reserves names starting with GITHUB_ (use e.g. GH_TOKEN)")
            twin = next((other for other in spec.secrets if other != key and other.upper() == key.upper()), None)
            if twin is not None:
                rules.fail(spath, f"is secret {twin} too (GitHub ignores case in secret names): keep one")
            rules.check_value(spath, system, value)
