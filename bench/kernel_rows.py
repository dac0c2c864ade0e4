"""The fused-kernel rows of scripts/gpu-check.sh, one per line as
`label|result|detail`: each kernel on cuda against the host target (what
dgc-kernel-check --compare printed, at a size the host runs quickly), and
at the model's size against its PyTorch peer (dgc-kernel-check's times and
what bench/kernels.py peer printed). A kernel's floor is its operands'
bytes over the GPU's peak bandwidth; `peer ms / dgc ms` above 1 is faster
than the peer.

Each LABEL=TIMES.jsonl after them (dgc-kernel-check's times of the same
kernels compiled another way, such as --gemm-wide-columns 1) gives a row
per kernel in it that compares those times with DGC.jsonl's.

    python3 bench/kernel_rows.py GPU_NAME CHECK.jsonl DGC.jsonl PEER.jsonl [LABEL=TIMES.jsonl...]
"""
import json
import sys

from hbm import peak_bandwidth


def lines(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.startswith("{")]
    except (OSError, ValueError):
        return []


def errors(outputs):
    parts = []
    for name, d in outputs.items():
        if "mismatches" in d:
            parts.append(f"{name} {d['mismatches']}/{d['of']} differ")
        elif "mismatch" in d:
            parts.append(f"{name} {100 * d['mismatch']:.2f}% differ")
        elif "max_magnitude" in d:
            rel = d["max_error"] / d["max_magnitude"] if d["max_magnitude"] else d["max_error"]
            parts.append(f"{name} err {rel:.2g}" if rel is not None else f"{name} err NaN")
        else:
            parts.append(f"{name} err {d['max_error']:.2g}, rows {100 * d['rows_agreeing']:.1f}% ok")
    return ", ".join(parts)


def main():
    gpu, check, dgc, peer = sys.argv[1], *(lines(p) for p in sys.argv[2:5])
    variants = [arg.split("=", 1) for arg in sys.argv[5:]]
    bw = peak_bandwidth(gpu)
    for c in check:
        print(f"kernel {c['kernel']}: cuda vs host|{'PASS' if c.get('passed') else 'FAIL'}|"
              f"{errors(c.get('outputs', {}))}")
    times = {d["kernel"]: d for d in dgc}
    for p in peer:
        d = times.get(p["kernel"], {})
        detail = []
        if d.get("ms"):
            detail.append(f"dgc {d['ms']:.3f} ms")
            if bw:
                floor = d["operand_mb"] * 1e6 / bw * 1e3
                detail.append(f"{100 * floor / d['ms']:.0f}% of the {floor:.3f} ms floor")
        detail.append(f"{p['peer']} {p['peer_ms']:.3f} ms")
        if p.get("dgc_vs_peer"):
            detail.append(f"{p['dgc_vs_peer']:.2f}x vs peer")
        detail.append(errors(p["outputs"]))
        print(f"kernel {p['kernel']}: cuda vs PyTorch|{'PASS' if p['passed'] else 'FAIL'}|"
              f"{'; '.join(detail)}")
    for label, path in variants:
        for v in lines(path):
            d = times.get(v["kernel"], {})
            if not v.get("ms") or not d.get("ms"):
                continue
            print(f"kernel {v['kernel']}: {label}|INFO|{v['ms']:.3f} ms against "
                  f"{d['ms']:.3f} ms by default ({d['ms'] / v['ms']:.2f}x)")


if __name__ == "__main__":
    main()
