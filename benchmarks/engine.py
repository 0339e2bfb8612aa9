"""How long the real Pulumi engine takes to preview and apply stackyard's stacks, offline.

Each figure is the wall time of one `pulumi` command (CLI start, language host, program, plugins,
state write), repeated; the table gives the median, the fastest and the slowest, so the machine's
noise shows. Stacks:
  - production: the three seed systems (122 resources), cloud resources through the stand-ins;
  - existing hosts only: the productivity system (22 resources), real plugins only;
  - secret files: tests/engine/programs/secret_files against a loopback sshd (6 resources, real SSH);
  - supabase: 12 dynamic resources against the fake Management API and a real PostgreSQL.

Run: make bench-engine   (it runs inside scripts/offline: a network namespace with only loopback)
     venv/bin/python benchmarks/engine.py [--repeat N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "engine")]

from helpers.fake_supabase import kai_world  # noqa: E402
from helpers.harness import production_config  # noqa: E402
from helpers.postgres import PostgresServer  # noqa: E402
from helpers.sshd import LoopbackSshd  # noqa: E402
from helpers.workspace import Workspace, toolchain_bin  # noqa: E402
from test_engine_supabase import SECRETS, project  # noqa: E402

ROWS: list[tuple[str, list[float]]] = []


def timed(label: str, repeat: int, run: Callable[[], float], setup: Callable[[], None] | None = None) -> None:
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        times.append(run())
    ROWS.append((label, times))
    print(f"  {label:<46} {statistics.median(times):6.1f} s  (min {min(times):.1f}, max {max(times):.1f}, "
          f"n={len(times)})", flush=True)


def workspace(bin_dir: Path, **kwargs) -> Workspace:
    return Workspace(Path(tempfile.mkdtemp(prefix="stackyard-bench-")), bin_dir, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bin_dir = toolchain_bin()
    made: list[Workspace] = []
    print(f"pulumi from {bin_dir}; each row: median of {args.repeat} (wall time of one command)")

    production = workspace(bin_dir, standins=True)
    made.append(production)
    production.init("production", copy_from=ROOT / "Pulumi.production.yaml")
    timed("preview production (122 resources)", args.repeat,
          lambda: production.preview("production").seconds)

    existing = workspace(bin_dir)
    made.append(existing)
    systems = production_config()["stackyard:systems"]
    existing.init("existing", config={"stackyard:systems": {"productivity": systems["productivity"]}},
                  secrets={"productivitySshKey": "PLACEHOLDER-key"})
    timed("preview existing hosts only (22 resources)", args.repeat,
          lambda: existing.preview("existing").seconds)

    sshd = LoopbackSshd().start()
    try:
        files = workspace(bin_dir, program=ROOT / "tests" / "engine" / "programs" / "secret_files")
        made.append(files)
        target = files.tmp / "host"
        target.mkdir()
        files.init("probe", config={"stackyard-secret-files:root": str(target),
                                    "stackyard-secret-files:port": str(sshd.port),
                                    "stackyard-secret-files:hostKey": sshd.host_key},
                   secrets={"stackyard-secret-files:privateKey": sshd.private_key,
                            "stackyard-secret-files:apiKey": "bench-api", "stackyard-secret-files:token": "t"})
        timed("preview secret files (nothing deployed)", args.repeat, lambda: files.preview("probe").seconds)
        timed("up secret files, first (6 created over SSH)", args.repeat, lambda: files.up("probe").seconds,
              setup=lambda: files.destroy("probe"))
        timed("up secret files, nothing changed", args.repeat, lambda: files.up("probe").seconds)
    finally:
        sshd.stop()

    postgres = PostgresServer().start()
    try:
        with kai_world(postgres) as (fake, dbname):
            kai = workspace(bin_dir)
            made.append(kai)
            kai.init("kai", config={"stackyard:systems": {"kai": {"supabase": project(fake.url)}}},
                     secrets={**SECRETS, "supabaseAccessToken": fake.token})

            def fresh_database() -> None:
                kai.destroy("kai")
                with postgres.connect(dbname) as conn:
                    conn.execute("drop table if exists public.documents, public.api_keys, public.user_workspaces;"
                                 "drop schema if exists stackyard cascade")

            timed("up supabase, first (12 created)", args.repeat, lambda: kai.up("kai").seconds,
                  setup=fresh_database)
            timed("up supabase, nothing changed", args.repeat, lambda: kai.up("kai").seconds)
            timed("refresh supabase", args.repeat, lambda: kai.refresh("kai").seconds)
            kai.destroy("kai")
    finally:
        postgres.stop()
        for ws in made:
            shutil.rmtree(ws.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
