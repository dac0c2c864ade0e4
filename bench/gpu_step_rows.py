"""The 26B-A4B step rows of scripts/gpu-check.sh: the peer's lines
(bench/torch_gpu_step.py) and dgc's (dgc-bench --device cuda), one row per
line as `label|result|detail` (a step replayed as a CUDA graph says so). dgc's floor is its own weight bytes (those
its decoder reads) over the GPU's peak bandwidth; each dgc row is also set
against the peer rows of the same batch (peer ms / dgc ms: above 1 is
faster than the peer).

    python3 bench/gpu_step_rows.py GPU_NAME PEER.jsonl DGC.jsonl
"""
import json
import sys

from hbm import peak_bandwidth


def lines(path):
    try:
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]
    except (OSError, ValueError):
        return []


def main():
    gpu, peer, dgc = sys.argv[1], lines(sys.argv[2]), lines(sys.argv[3])
    bw = peak_bandwidth(gpu)
    for p in peer:
        print(f"peer {p['mode']} step, batch {p['batch']}, ctx {p['context']}|"
              f"{p['ms']} ms|{p['pct_of_floor']}% of the {p['floor_ms']} ms floor "
              f"({p['weight_gb']} GB bf16, {p['device']})")
    for d in dgc:
        gb = d["weight_bytes"] / 1e9
        detail = [f"{gb:.2f} GB of weights"]
        if "graph_ms" in d:
            detail.append(f"{d['graph_ms']:.2f} ms without the input and "
                          "output copies")
        if bw:
            floor = d["weight_bytes"] / bw * 1e3
            detail.append(f"{100 * floor / d['step_ms']:.1f}% of the {floor:.2f} ms floor")
        for p in peer:
            if p["batch"] == d["batch"]:
                detail.append(f"{p['ms'] / d['step_ms']:.2f}x vs peer {p['mode']}")
        how = d["device"] + (", CUDA graph" if d.get("cuda_graph") else "")
        print(f"dgc step ({how}), batch {d['batch']}, ctx {d['context']}|"
              f"{d['step_ms']:.2f} ms|{'; '.join(detail)}")


if __name__ == "__main__":
    main()
