"""dg.categorical_sample as its description defines it, in plain Python:
reads what `dgc-kernel-check --out` wrote for bench/fused_kernels.py's
categorical_sample graph (bf16 logits [1, R, V], seeds 0..R-1) and prints
how many of dgc's draws the definition reproduces."""
import json
import math
import struct
import sys

MASK = 0xFFFFFFFF


def fmix32(h):
    h = ((h ^ (h >> 16)) * 0x85EBCA6B) & MASK
    h = ((h ^ (h >> 13)) * 0xC2B2AE35) & MASK
    return h ^ (h >> 16)


def main(path):
    data = open(path, "rb").read()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])

    def tensor(name):
        begin, end = header[name]["data_offsets"]
        return header[name]["shape"], data[8 + size + begin:8 + size + end]

    (_, rows, vocab), logits = tensor("logits")
    _, drawn = tensor("out.out")
    drawn = struct.unpack(f"<{rows}i", drawn)
    same = 0
    for r in range(rows):
        best, pick = -math.inf, 0
        for i in range(vocab):
            x = struct.unpack("<f", b"\0\0" + logits[2 * (r * vocab + i):2 * (r * vocab + i) + 2])[0]
            u = ((fmix32(r ^ fmix32(i)) >> 9) + 0.5) * 2.0 ** -23
            score = x - math.log(-math.log(u))
            if score > best:
                best, pick = score, i
        same += pick == drawn[r]
    print(f"{same} of {rows} draws as defined")


if __name__ == "__main__":
    main(sys.argv[1])
