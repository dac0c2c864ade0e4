"""Writes a random-weight checkpoint of a DiffusionGemma config with
transformers' own implementation (save_pretrained), for the benchmarks.

    python3 bench/make_checkpoint.py CONFIG_DIR OUT_DIR
"""
import sys

import torch
from transformers import (DiffusionGemmaConfig, DiffusionGemmaForBlockDiffusion,
                          Gemma4VisionConfig)


def main():
    config_dir, out_dir = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    config = DiffusionGemmaConfig.from_pretrained(config_dir)
    if getattr(config, "vision_config", None) is None:
        # transformers' class always builds a vision tower; a text-only
        # config gets the smallest one (dgc compiles no vision graph for it
        # and never reads those weights).
        config.vision_config = Gemma4VisionConfig(
            hidden_size=32, intermediate_size=48, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=2, head_dim=16,
            patch_size=4, position_embedding_size=64)
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
