"""How the benchmarks print a repeated measurement: the median, then the fastest and slowest run, so
the machine's noise shows next to the figure."""

from __future__ import annotations

import statistics


def row(label: str, values: list[float], unit: str = "s") -> None:
    print(f"  {label:<58} {statistics.median(values):7.1f} {unit}  (min {min(values):.1f}, "
          f"max {max(values):.1f}, n={len(values)})", flush=True)
