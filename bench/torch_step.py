"""Times transformers' DiffusionGemma on the CPU: one prefill of PROMPT
tokens and one denoise step (self-conditioning on, with the full-vocabulary
statistics the dgc decoder step also returns), median of RUNS.

    python3 bench/torch_step.py CHECKPOINT_DIR PROMPT RUNS THREADS
Prints one JSON line.
"""
import json
import statistics
import sys
import time

import torch
from transformers import DiffusionGemmaForBlockDiffusion, DynamicCache

from torch_gpu_step import cache_keyword


def median_ms(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    ckpt, prompt_len, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    model = DiffusionGemmaForBlockDiffusion.from_pretrained(ckpt, dtype=torch.float32).eval()
    text = model.config.text_config
    C, V = model.config.canvas_length, text.vocab_size
    encode_kw, step_kw = cache_keyword(model.model.encoder.forward), cache_keyword(model.forward)
    gen = torch.Generator().manual_seed(0)
    prompt = torch.randint(3, V - 8, (1, prompt_len), generator=gen)
    canvas = torch.randint(3, V - 8, (1, C), generator=gen)

    with torch.no_grad():
        def prefill():
            cache = DynamicCache(config=text)
            model.model.encoder(input_ids=prompt, **{encode_kw: cache})
            return cache

        cache = prefill()
        sc = torch.randn(1, C, V, generator=gen)

        def step():
            logits = model(decoder_input_ids=canvas, self_conditioning_logits=sc, **{step_kw: cache}).logits
            x = logits / 0.8
            probs = torch.softmax(x, dim=-1)
            entropy = torch.logsumexp(x, dim=-1) - (probs * x).sum(-1)
            top = torch.topk(probs, 64, dim=-1)
            return x.argmax(-1), entropy, top

        prefill_ms = median_ms(prefill, runs)
        step_ms = median_ms(step, runs)
    print(json.dumps({"prefill_ms": prefill_ms, "step_ms": step_ms, "threads": threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
