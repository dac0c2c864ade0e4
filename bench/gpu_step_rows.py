"""The 26B-A4B step rows of scripts/gpu-check.sh: the peer's lines
(bench/torch_gpu_step.py) and dgc's (dgc-bench --device cuda), one row per
line as `label|result|detail` (a step replayed as a CUDA graph says so).
dgc's floor is its own weight bytes (those its decoder reads) over the
GPU's peak bandwidth; each dgc row is also set against the peer rows of the
same batch and context (peer ms / dgc ms: above 1 is faster than the
peer). A peer line that was skipped (no time left to compile) is a SKIP
row, one that failed a FAIL row, as is a dgc line without a step time; a
missing or null field leaves its part out.

    python3 bench/gpu_step_rows.py GPU_NAME PEER.jsonl DGC.jsonl [--ratios]

--ratios prints the peer's rows and, for each dgc line, only its ratios to
them (the GPU check has printed dgc's rows already).
"""
import sys

from hbm import peak_bandwidth
from json_lines import number, read_lines


def field(d, key):
    return d.get(key) if d.get(key) is not None else "?"


def peer_row(p):
    label = f"peer {field(p, 'mode')} step, batch {field(p, 'batch')}, ctx {field(p, 'context')}"
    ms = number(p.get("ms"))
    if "skipped" in p:
        return f"{label}|SKIP|{p['skipped']}"
    if "error" in p or ms is None:
        return f"{label}|FAIL|{p.get('error', 'no time')}"
    about = [f"{p['weight_gb']} GB bf16" if number(p.get("weight_gb")) is not None else None,
             p.get("device")]
    about = ", ".join(str(a) for a in about if a)
    detail = (f"{p['pct_of_floor']}% of the {p['floor_ms']} ms floor"
              if number(p.get("pct_of_floor")) is not None and number(p.get("floor_ms")) is not None
              else "no floor for this device")
    return f"{label}|{p['ms']} ms|{detail}" + (f" ({about})" if about else "")


def main():
    args = [a for a in sys.argv[1:] if a != "--ratios"]
    ratios_only = len(args) < len(sys.argv) - 1
    gpu, peer, dgc = args[0], read_lines(args[1]), read_lines(args[2])
    bw = peak_bandwidth(gpu)
    for p in peer:
        print(peer_row(p))
    for d in dgc:
        if ratios_only:
            print(ratio_row(d, peer))
            continue
        how = str(d.get("device", "?")) + (", CUDA graph" if d.get("cuda_graph") else "")
        label = f"dgc step ({how}), batch {field(d, 'batch')}, ctx {field(d, 'context')}"
        step = number(d.get("step_ms"))
        weight_bytes = number(d.get("weight_bytes"))
        detail = []
        if weight_bytes is not None:
            detail.append(f"{weight_bytes / 1e9:.2f} GB of weights")
        graph = number(d.get("graph_ms"))
        if graph is not None:
            detail.append(f"{graph:.2f} ms without the input and output copies")
        if not step:
            print(f"{label}|FAIL|{'; '.join(detail + ['no step time'])}")
            continue
        if bw and weight_bytes is not None:
            floor = weight_bytes / bw * 1e3
            detail.append(f"{100 * floor / step:.1f}% of the {floor:.2f} ms floor")
        for p in peer:
            ms = number(p.get("ms"))
            same = p.get("batch") == d.get("batch") and p.get("context") == d.get("context")
            if same and ms is not None and "skipped" not in p:
                detail.append(f"{ms / step:.2f}x vs peer {field(p, 'mode')}")
        print(f"{label}|{step:.2f} ms|{'; '.join(detail)}")


def ratio_row(d, peer):
    """dgc's step against each peer row of its batch and context, alone."""
    how = str(d.get("device", "?")) + (", CUDA graph" if d.get("cuda_graph") else "")
    label = f"dgc vs peer ({how}), batch {field(d, 'batch')}, ctx {field(d, 'context')}"
    step = number(d.get("step_ms"))
    ratios = []
    for p in peer:
        ms = number(p.get("ms"))
        same = p.get("batch") == d.get("batch") and p.get("context") == d.get("context")
        if step and same and ms is not None and "skipped" not in p:
            ratios.append(f"{ms / step:.2f}x vs peer {field(p, 'mode')}")
    return f"{label}|INFO|{'; '.join(ratios) or 'no peer time to compare'}"


if __name__ == "__main__":
    main()
