"""Writes a random-weight checkpoint of a DiffusionGemma config with
transformers' own implementation (save_pretrained), for the benchmarks.

    python3 bench/make_checkpoint.py CONFIG_DIR OUT_DIR
"""
import sys

import torch
from transformers import DiffusionGemmaConfig, DiffusionGemmaForBlockDiffusion


def main():
    config_dir, out_dir = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    config = DiffusionGemmaConfig.from_pretrained(config_dir)
    model = DiffusionGemmaForBlockDiffusion(config).to(torch.float32).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.05)
            else:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
    model.save_pretrained(out_dir, safe_serialization=True)


if __name__ == "__main__":
    main()
