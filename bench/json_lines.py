"""Reading what the GPU check's steps wrote: JSON lines, and numbers that
may be null, NaN or missing (bench/kernel_rows.py, bench/gpu_step_rows.py)."""
import json
import math


def read_lines(path):
    """The JSON objects of a file, one a line; a line that is not one (a run
    cut short mid-line, a tool's log line) is skipped."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        if line.lstrip().startswith("{"):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def number(x):
    """x as a finite float, else None (null, NaN, an infinity, not there)."""
    if isinstance(x, bool):
        return None
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None
