#!/usr/bin/env python3
"""Sums what Nsight Compute measured of each kernel of a step
(`ncu --metrics gpu__time_duration.sum,dram__bytes.sum --csv`): by the part
of the model each kernel computes (dg-gpu-name-kernels names a kernel
after it, "moe_dispatch_3"; the number is dropped), then by launch shape.

    python3 bench/kernel_profile.py KERNELS.csv [--summary] [--top N] [--gpu NAME]
        [--config CONFIG.json [--batch B]]

Prints the launches' total time, then one line per part and one per shape
(launches, time, share, DRAM bytes and their rate; with --gpu, a name such
as "NVIDIA H200", also the share of the GPU's datasheet HBM rate those
bytes reach) from the costliest, then the N slowest launches by their order
in the step. With --config (the model's config.json, the step at batch B,
default 1), a part whose kernels multiply weights (bench/step_parts.py) also
shows its weights' bytes, the floor they set at the HBM rate, the share of
that floor its time reaches, and the TFLOP/s of its GEMMs. --summary prints
the first line only.
"""
import csv
import os
import re
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hbm import peak_bandwidth  # noqa: E402
from step_parts import BF16, canvas_rows, take_options  # noqa: E402
from step_parts import parts as weight_parts  # noqa: E402

SCALE = {"ns": 1e-9, "nsecond": 1e-9, "us": 1e-6, "usecond": 1e-6, "ms": 1e-3,
         "msecond": 1e-3, "s": 1.0, "second": 1.0,
         "byte": 1.0, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9, "KB": 1e3, "MB": 1e6,
         "GB": 1e9}


def launches(path):
    """{id: {"name", "shape": (block, grid), "seconds", "bytes"}} from the CSV."""
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
            "name": r[col["Kernel Name"]] if "Kernel Name" in col else "?",
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


def part_of(name):
    """The part a kernel's name says it computes: without its number, or
    its parameter list where the profiler prints one."""
    return re.sub(r"_[0-9]+$", "", name.split("(")[0])


def table(title, groups, total, bandwidth, weights=None, rows=0):
    """One line per group (launches, seconds, bytes), costliest first; with
    `weights` ({group: (parameters, parameters a row multiplies)}), a
    group's weight bytes, their floor, its share and its TFLOP/s."""
    width = max([len(title)] + [len(str(k)) for k in groups])
    head = f"{title:<{width}} {'launches':>8} {'ms':>9} {'share':>6} {'GB':>7} {'TB/s':>6}"
    if bandwidth:
        head += f" {'% HBM':>6}"
    if weights is not None:
        head += f" {'weights GB':>10} {'floor ms':>8} {'% floor':>7} {'TFLOP/s':>7}"
    print(head)
    for key, (n, sec, b) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        line = (f"{str(key):<{width}} {n:>8} {sec * 1e3:>9.3f} {100 * sec / total:>5.1f}% "
                f"{b / 1e9:>7.3f} {b / sec / 1e12 if sec else 0:>6.2f}")
        if bandwidth:
            line += f" {100 * b / bandwidth / sec if sec else 0:>5.1f}%"
        if weights is not None and key in weights:
            params, per_row = weights[key]
            line += f" {params * BF16 / 1e9:>10.3f}"
            if bandwidth and sec:
                floor = params * BF16 / bandwidth
                line += f" {floor * 1e3:>8.3f} {100 * floor / sec:>6.1f}%"
            else:
                line += f" {'':>8} {'':>7}"
            line += f" {2 * rows * per_row / sec / 1e12 if sec else 0:>7.1f}"
        print(line)


def main():
    argv = sys.argv[1:]
    options = take_options(argv, ("--top", "--gpu", "--config", "--batch"))
    args = [a for a in argv if not a.startswith("--")]
    if not args:
        sys.exit(__doc__)
    top = int(options.get("--top", 15))
    bandwidth = peak_bandwidth(options["--gpu"]) if "--gpu" in options else None
    found = launches(args[0])
    if not found:
        print(f"no kernels in {args[0]}")
        return 1
    total = sum(l["seconds"] for l in found.values())
    moved = sum(l["bytes"] for l in found.values())
    print(f"{len(found)} launches, {total * 1e3:.2f} ms timed alone, "
          f"{moved / 1e9:.2f} GB from DRAM ({moved / total / 1e12:.2f} TB/s)")
    if "--summary" in argv:
        return 0
    parts = defaultdict(lambda: [0, 0.0, 0.0])
    shapes = defaultdict(lambda: [0, 0.0, 0.0])
    for l in found.values():
        for group in (parts[part_of(l["name"])], shapes[" grid ".join(l["shape"])]):
            group[0] += 1
            group[1] += l["seconds"]
            group[2] += l["bytes"]
    weights, rows = None, 0
    if "--config" in options:
        weights = weight_parts(options["--config"])
        rows = canvas_rows(options["--config"]) * int(options.get("--batch", 1))
    table("part", parts, total, bandwidth, weights, rows)
    table("block grid", shapes, total, bandwidth)
    print(f"the {top} slowest launches (their order in the step):")
    first = min(found)
    for i, l in sorted(found.items(), key=lambda kv: -kv[1]["seconds"])[:top]:
        print(f"  #{i - first:<5} {part_of(l['name']):<28} block {l['shape'][0]:>14} "
              f"grid {l['shape'][1]:>16} {l['seconds'] * 1e3:8.3f} ms "
              f"{l['bytes'] / 1e9:7.3f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
