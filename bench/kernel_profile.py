#!/usr/bin/env python3
"""Sums what Nsight Compute measured of each kernel of a step
(`ncu --metrics gpu__time_duration.sum,dram__bytes.sum --csv`), by launch
shape: every kernel of a dgc graph has the same entry name, so the block
and grid sizes tell the kinds apart.

    python3 bench/kernel_profile.py KERNELS.csv [--summary] [--top N]

Prints the launches' total time, then one line per shape (launches, time,
share, DRAM bytes and their rate) from the costliest, then the N slowest
launches by their order in the step. --summary prints the first line only.
"""
import csv
import sys
from collections import defaultdict

SCALE = {"ns": 1e-9, "nsecond": 1e-9, "us": 1e-6, "usecond": 1e-6, "ms": 1e-3,
         "msecond": 1e-3, "s": 1.0, "second": 1.0,
         "byte": 1.0, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "KB": 1e3, "MB": 1e6,
         "GB": 1e9}


def launches(path):
    """{id: {"shape": (block, grid), "seconds": s, "bytes": b}} from the CSV."""
    out = {}
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f)]
    header = next((i for i, r in enumerate(rows) if r and r[0] == "ID"), None)
    if header is None:
        return out
    names = rows[header]
    col = {n: i for i, n in enumerate(names)}
    for r in rows[header + 1:]:
        if len(r) != len(names):
            continue
        launch = out.setdefault(int(r[col["ID"]]), {
            "shape": (r[col["Block Size"]], r[col["Grid Size"]]),
            "seconds": 0.0, "bytes": 0.0})
        try:
            value = float(r[col["Metric Value"]].replace(",", ""))
        except ValueError:
            continue
        unit = SCALE.get(r[col["Metric Unit"]], 1.0)
        if r[col["Metric Name"]].startswith("gpu__time_duration"):
            launch["seconds"] = value * unit
        elif r[col["Metric Name"]].startswith("dram__bytes"):
            launch["bytes"] = value * unit
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not args:
        sys.exit(__doc__)
    top = 15
    if "--top" in sys.argv:
        top = int(sys.argv[sys.argv.index("--top") + 1])
        args = [a for a in args if a != str(top)]
    found = launches(args[0])
    if not found:
        print(f"no kernels in {args[0]}")
        return 1
    total = sum(l["seconds"] for l in found.values())
    moved = sum(l["bytes"] for l in found.values())
    print(f"{len(found)} launches, {total * 1e3:.2f} ms timed alone, "
          f"{moved / 1e9:.2f} GB from DRAM ({moved / total / 1e12:.2f} TB/s)")
    if "--summary" in sys.argv:
        return 0
    shapes = defaultdict(lambda: [0, 0.0, 0.0])
    for l in found.values():
        s = shapes[l["shape"]]
        s[0] += 1
        s[1] += l["seconds"]
        s[2] += l["bytes"]
    print(f"{'block':>14} {'grid':>16} {'launches':>8} {'ms':>9} {'share':>6} "
          f"{'GB':>7} {'TB/s':>6}")
    for (block, grid), (n, sec, b) in sorted(shapes.items(), key=lambda kv: -kv[1][1]):
        print(f"{block:>14} {grid:>16} {n:>8} {sec * 1e3:>9.3f} {100 * sec / total:>5.1f}% "
              f"{b / 1e9:>7.3f} {b / sec / 1e12 if sec else 0:>6.2f}")
    print(f"the {top} slowest launches (their order in the step):")
    first = min(found)
    for i, l in sorted(found.items(), key=lambda kv: -kv[1]["seconds"])[:top]:
        print(f"  #{i - first:<5} block {l['shape'][0]:>14} grid {l['shape'][1]:>16} "
              f"{l['seconds'] * 1e3:8.3f} ms {l['bytes'] / 1e9:7.3f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
