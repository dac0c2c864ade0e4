"""The fused-kernel rows of scripts/gpu-check.sh, one per line as
`label|result|detail`: each kernel on cuda against the host target (what
dgc-kernel-check --compare printed, at a size the host runs quickly), and
at the model's size against its PyTorch peer (dgc-kernel-check's times and
what bench/fused_kernels.py peer printed). A kernel's floor is its operands'
bytes over the GPU's peak bandwidth; `peer ms / dgc ms` above 1 is faster
than the peer.

Each LABEL=TIMES.jsonl after them (dgc-kernel-check's times of the same
kernels compiled another way, such as --gemm-wide-columns 1) gives a row
per kernel in it that compares those times with DGC.jsonl's.

A NaN or an infinity is null in these lines: such an error prints as NaN
and fails its row, and a missing or null time leaves its part out; no line
stops the others.

    python3 bench/kernel_rows.py GPU_NAME CHECK.jsonl DGC.jsonl PEER.jsonl [LABEL=TIMES.jsonl...]
"""
import sys

from hbm import peak_bandwidth
from json_lines import number, read_lines


def errors(outputs):
    """Each output's difference as text, and whether all of them are
    numbers: a NaN or an infinity (null in the JSON) is an error."""
    if not isinstance(outputs, dict):
        return "no outputs", False
    parts, finite = [], True
    for name, d in outputs.items():
        if not isinstance(d, dict):
            parts.append(f"{name} ?")
            finite = False
        elif d.get("missing"):
            parts.append(f"{name} missing")
            finite = False
        elif "mismatches" in d:
            n, of = d.get("mismatches"), d.get("of")
            parts.append(f"{name} {n if n is not None else '?'}/{of if of is not None else '?'} differ")
            finite &= number(n) is not None
        elif "mismatch" in d:
            m = number(d.get("mismatch"))
            parts.append(f"{name} {100 * m:.2f}% differ" if m is not None else f"{name} ?% differ")
            finite &= m is not None
        elif "max_magnitude" in d:
            error, magnitude = number(d.get("max_error")), number(d.get("max_magnitude"))
            rel = None
            if error is not None and magnitude is not None:
                rel = error / magnitude if magnitude else error
            parts.append(f"{name} err {rel:.2g}" if rel is not None else f"{name} err NaN")
            finite &= rel is not None
        else:
            error, rows = number(d.get("max_error")), number(d.get("rows_agreeing"))
            text = f"{name} err {error:.2g}" if error is not None else f"{name} err NaN"
            parts.append(text + (f", rows {100 * rows:.1f}% ok" if rows is not None else ", rows ?% ok"))
            finite &= error is not None and rows is not None
    return ", ".join(parts), finite


def main():
    gpu, check, dgc, peer = sys.argv[1], *(read_lines(p) for p in sys.argv[2:5])
    variants = [arg.split("=", 1) for arg in sys.argv[5:] if "=" in arg]
    bw = peak_bandwidth(gpu)
    for c in check:
        text, finite = errors(c.get("outputs", {}))
        passed = c.get("passed") is True and finite
        print(f"kernel {c.get('kernel', '?')}: cuda vs host|{'PASS' if passed else 'FAIL'}|{text}")
    times = {d.get("kernel"): d for d in dgc}
    for p in peer:
        d = times.get(p.get("kernel"), {})
        detail = []
        ms = number(d.get("ms"))
        if ms:
            detail.append(f"dgc {ms:.3f} ms")
            operand_mb = number(d.get("operand_mb"))
            if bw and operand_mb is not None:
                floor = operand_mb * 1e6 / bw * 1e3
                detail.append(f"{100 * floor / ms:.0f}% of the {floor:.3f} ms floor")
        peer_ms = number(p.get("peer_ms"))
        if peer_ms is not None:
            detail.append(f"{p.get('peer', 'peer')} {peer_ms:.3f} ms")
        ratio = number(p.get("dgc_vs_peer"))
        if ratio:
            detail.append(f"{ratio:.2f}x vs peer")
        finite = True
        if "error" in p:
            detail.append(f"peer failed: {p['error']}")
            finite = False
        if "outputs" in p:
            text, finite = errors(p["outputs"])
            detail.append(text)
        passed = p.get("passed") is True and finite
        print(f"kernel {p.get('kernel', '?')}: cuda vs PyTorch|{'PASS' if passed else 'FAIL'}|"
              f"{'; '.join(detail)}")
    for label, path in variants:
        for v in read_lines(path):
            d = times.get(v.get("kernel"), {})
            ms, default = number(v.get("ms")), number(d.get("ms"))
            if not ms or not default:
                continue
            print(f"kernel {v.get('kernel')}: {label}|INFO|{ms:.3f} ms against "
                  f"{default:.3f} ms by default ({default / ms:.2f}x)")


if __name__ == "__main__":
    main()
