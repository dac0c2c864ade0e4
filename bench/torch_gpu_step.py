"""Times transformers' DiffusionGemma on a GPU: one denoise step of the
26B-A4B shape (random bf16 weights, self-conditioning on) at a CONTEXT-token
committed prefix, for each BATCH of canvases, eager and with torch.compile;
prints one JSON line per (mode, batch) with milliseconds and the fraction of
the HBM bandwidth floor (every weight read once per step).

    python3 bench/torch_gpu_step.py CONFIG_DIR CONTEXT BATCH... [--no-compile]
"""
import json
import statistics
import sys
import time

import torch
from transformers import DiffusionGemmaConfig, DiffusionGemmaForBlockDiffusion, DynamicCache

from hbm import peak_bandwidth


def time_ms(fn, runs=5):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    compile_too = "--no-compile" not in sys.argv
    config_dir, context, batches = args[0], int(args[1]), [int(b) for b in args[2:]]
    config = DiffusionGemmaConfig.from_pretrained(config_dir)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = DiffusionGemmaForBlockDiffusion(config).to(torch.bfloat16).eval()
    text = model.config.text_config
    C, V = model.config.canvas_length, text.vocab_size
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    device = torch.cuda.get_device_name()
    bw = peak_bandwidth(device)
    floor_ms = weight_bytes / bw * 1e3 if bw else None
    for b in batches:
        prompt = torch.randint(3, V - 8, (b, context), device="cuda")
        canvas = torch.randint(3, V - 8, (b, C), device="cuda")
        sc = torch.randn(b, C, V, device="cuda", dtype=torch.bfloat16)
        cache = DynamicCache(config=text)
        with torch.no_grad():
            model.model.encoder(input_ids=prompt, cache=cache)
        modes = [("eager", model)]
        if compile_too:
            modes.append(("torch.compile", torch.compile(model)))
        for mode, m in modes:
            def step():
                with torch.no_grad():
                    logits = m(decoder_input_ids=canvas, self_conditioning_logits=sc, cache=cache).logits
                    x = logits.float() / 0.8
                    x.argmax(-1)
                    torch.distributions.Categorical(logits=x).entropy()
            ms = time_ms(step)
            print(json.dumps({"peer": "transformers", "mode": mode, "batch": b, "context": context,
                              "device": device, "ms": round(ms, 2), "weight_gb": round(weight_bytes / 1e9, 2),
                              "floor_ms": round(floor_ms, 2) if floor_ms else None,
                              "pct_of_floor": round(100 * floor_ms / ms, 1) if floor_ms else None}),
                  flush=True)


if __name__ == "__main__":
    main()
