#!/usr/bin/env python3
"""How many experts a router graph's rows chose (dgc-kernel-check --only
router --out DIR writes DIR/router.safetensors with out.experts, i32
[1, rows, top_k]); with a second file, how many of the choices differ.

    python3 bench/router_coverage.py ROUTER.safetensors [OTHER.safetensors]

With uniform routing, R rows choosing k of E experts cover about
E * (1 - (1 - k/E)^R) of them; far fewer means the choices pile onto a few
experts (near ties broken the same way), and a step with random weights
then streams far fewer expert bytes than a trained model's.
"""
import json
import struct
import sys


def experts(path):
    """The rows of out.experts, each a list of expert ids."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        entry = header["out.experts"]
        if entry["dtype"] != "I32":
            sys.exit(f"{path}: out.experts is {entry['dtype']}, not I32")
        start, stop = entry["data_offsets"]
        f.seek(8 + size + start)
        data = f.read(stop - start)
    k = entry["shape"][-1]
    ids = struct.unpack(f"<{len(data) // 4}i", data)
    return [sorted(ids[i:i + k]) for i in range(0, len(ids), k)]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    rows = experts(sys.argv[1])
    chosen = {e for row in rows for e in row}
    line = f"{len(chosen)} distinct experts chosen by {len(rows)} rows of {len(rows[0])}"
    if len(sys.argv) == 3:
        other = experts(sys.argv[2])
        if len(other) != len(rows):
            sys.exit("the two files hold different numbers of rows")
        differ = sum(len(set(a) ^ set(b)) // 2 for a, b in zip(rows, other))
        line += f"; {differ} of {len(rows) * len(rows[0])} choices differ from the other file's"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
