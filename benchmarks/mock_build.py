"""How long building a stack under Pulumi mocks takes, and how it scales with the number of systems.

Prints three tables:
  1. the import cost of each provider SDK, each in a fresh interpreter;
  2. a whole program run per stack shape in a fresh interpreter, with the SDKs it loaded;
  3. in-process build time for 1, 10, 50 and 100 systems (SDKs already imported).

Run: make bench   (or venv/bin/python benchmarks/mock_build.py [--repeat N])
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers.harness import canary_secrets, production_config, run_program  # noqa: E402

SDKS = ["pulumi", "pulumi_hcloud", "pulumi_digitalocean", "pulumi_cloudflare", "pulumiverse_vercel",
        "pulumi_github", "pulumi_command", "pulumi_random"]


def fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=ROOT).stdout.strip()


def import_cost(module: str, repeat: int) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return statistics.median(float(fresh(code)) for _ in range(repeat))


def whole_run(systems: list[str] | None) -> tuple[float, list[str]]:
    """Wall time of one program run (imports included) in a fresh interpreter, and the SDKs it loaded."""
    code = f"""
import json, sys, time
t = time.perf_counter()
sys.path[:0] = {[str(ROOT), str(ROOT / 'tests')]!r}
from helpers.harness import canary_secrets, production_config, run_program
config = production_config()
keep = {systems!r}
if keep is not None:
    config["stackyard:systems"] = {{k: v for k, v in config["stackyard:systems"].items() if k in keep}}
run_program(config, canary_secrets(config))
print(json.dumps([time.perf_counter() - t, sorted(m for m in {SDKS[1:]!r} if m in sys.modules)]))
"""
    seconds, loaded = json.loads(fresh(code).splitlines()[-1])
    return seconds, loaded


def synthetic(n: int) -> dict:
    """A stack of n systems: copies of the mehko and material-kai systems with their names made unique."""
    base = production_config()
    templates = [base["stackyard:systems"]["mehko"], base["stackyard:systems"]["material-kai"]]
    systems = {}
    for i in range(n):
        text = json.dumps(templates[i % 2])
        for old in ("mehko.ai", "materialshub.gr"):
            text = text.replace(old, f"s{i}.{old}")
        for old in ("mehko-ai", "material-kai-vision-platform", "mivaa-pdf-extractor"):
            text = text.replace(f'"{old}"', f'"{old}-{i}"').replace(f"/{old}", f"/{old}-{i}")
        system = json.loads(text)
        if "supabase" in system:  # one Supabase project belongs to one system: 20 letters, unique per copy
            system["supabase"]["projectRef"] = "".join(chr(97 + int(d)) for d in f"{i:020d}")
        systems[f"system-{i}"] = system
    config = copy.deepcopy(base)
    config["stackyard:systems"] = systems
    return config


def timed_build(config: dict, repeat: int) -> tuple[float, int]:
    secrets = canary_secrets(config)
    times, count = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        run = run_program(config, secrets)
        times.append(time.perf_counter() - t)
        count = len(run.resources)
    return statistics.median(times), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown")
    args = parser.parse_args()

    print(f"1. SDK import cost, fresh interpreter, median of {args.repeat}")
    for module in SDKS:
        print(f"   {module:<22} {import_cost(module, args.repeat):6.2f} s")

    print("\n2. whole program under mocks, fresh interpreter (imports included)")
    for label, systems in [("production (3 systems)", None), ("productivity only (existing host)", ["productivity"]),
                           ("mehko only (hetzner, cloudflare)", ["mehko"])]:
        seconds, loaded = whole_run(systems)
        print(f"   {label:<36} {seconds:6.2f} s   SDKs loaded: {', '.join(loaded) or 'none'}")

    print(f"\n3. build under mocks, SDKs already imported, median of {args.repeat}")
    timed_build(production_config(), 1)  # warm imports and caches
    print(f"   {'systems':>7} {'resources':>9} {'seconds':>8} {'ms/system':>9}")
    for n in (1, 10, 50, 100):
        seconds, count = timed_build(synthetic(n), args.repeat)
        print(f"   {n:>7} {count:>9} {seconds:>8.2f} {1000 * seconds / n:>9.1f}")


if __name__ == "__main__":
    main()
