#!/usr/bin/env python3
"""Runs the tiny fixture model in bf16 with transformers' DiffusionGemma, the
reference that test/e2e/Bf16AgreementTest.cpp compares dgc's bf16 module with.

    python3 bench/tiny_bf16_reference.py [--device cuda|cpu] OUT.safetensors

Loads test/fixtures/tiny/checkpoint in bfloat16 on the device and replays the
sequence of test/fixtures/tiny/expected.safetensors with that file's inputs
(scripts/fixtures/make_tiny_fixtures.py made them in f32): the prefill of the
40-token prompt at positions 0..39; decoder step 1 (k = N, self-conditioning
off); step 2 (k = N-1, conditioned on step 1's x as generate() passes it, here
rounded to bf16); the commit of the fixture's ids at 40..55; step 3 (k = N,
self-conditioning off) on a new canvas at 56..71. Each call is made as
generate() makes it. OUT.safetensors holds the inputs (ids, positions, k and
the float32 temperature of each step) and what the sampler decides from: x =
softcapped logits / T (float32; the head's logits are bf16 before the cast),
argmax, entropy, and the entropy-bound acceptance mask of transformers'
EntropyBoundSampler. Prints one JSON line: how far this bf16 run lands from
the f32 fixture (a baseline for the bf16 comparison).
"""

import argparse
import inspect
import json
import sys
from pathlib import Path

import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import DiffusionGemmaForBlockDiffusion
from transformers.models.diffusion_gemma.generation_diffusion_gemma import (
    DiffusionGemmaGenerationConfig,
)

FIXTURES = Path(__file__).resolve().parents[1] / "test" / "fixtures" / "tiny"


def cache_kwarg(fn):
    """The cache argument's name: past_key_values, or cache in later 5.x."""
    return "cache" if "cache" in inspect.signature(fn).parameters else "past_key_values"


def encode(model, ids, cache, start):
    """One encoder pass over `ids` at positions start.., as generate() calls it."""
    dev = ids.device
    pos = torch.arange(start, start + ids.shape[1], dtype=torch.int32, device=dev).unsqueeze(0)
    encoder = model.model.encoder
    masks = encoder.create_masks_for_generate(
        config=model.config,
        inputs_embeds=torch.empty((1, ids.shape[1], 0), dtype=model.dtype, device=dev),
        attention_mask=torch.ones((1, start + ids.shape[1]), dtype=torch.bool, device=dev),
        position_ids=pos,
        mm_token_type_ids=None,
        **{cache_kwarg(encoder.create_masks_for_generate): cache},
    )
    return encoder(input_ids=ids, attention_mask=masks, position_ids=pos,
                   **{cache_kwarg(encoder.forward): cache}).last_hidden_state


def decode(model, canvas, cache, committed, sc_logits, k, processors, prompt):
    """One denoise step at positions committed.., as _denoising_step runs it."""
    dev = canvas.device
    c = canvas.shape[1]
    pos = torch.arange(committed, committed + c, dtype=torch.int32, device=dev).unsqueeze(0)
    decoder = model.model.decoder
    masks = decoder.create_diffusion_decoder_attention_mask(
        config=model.config,
        inputs_embeds=canvas.unsqueeze(-1),
        decoder_attention_mask=torch.ones((1, committed + c), dtype=torch.bool, device=dev),
        **{cache_kwarg(decoder.create_diffusion_decoder_attention_mask): cache},
    )
    out = model(decoder_input_ids=canvas, self_conditioning_logits=sc_logits,
                decoder_attention_mask=masks, decoder_position_ids=pos,
                **{cache_kwarg(model.forward): cache})
    step = torch.tensor(k, dtype=torch.int32, device=dev)
    x = processors(prompt, out.logits, cur_step=step)
    schedule = processors[-1]
    temperature = schedule.t_min + (schedule.t_max - schedule.t_min) * (step / schedule.max_denoising_steps)
    return x, pos, temperature


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("out", help="the safetensors file to write")
    args = parser.parse_args()
    dev = torch.device(args.device)
    checkpoint = FIXTURES / "checkpoint"
    model = DiffusionGemmaForBlockDiffusion.from_pretrained(checkpoint, dtype=torch.bfloat16).to(dev).eval()
    gen_cfg = DiffusionGemmaGenerationConfig.from_pretrained(checkpoint)
    n = gen_cfg.max_denoising_steps
    with safe_open(FIXTURES / "expected.safetensors", "pt") as f:
        fixture = {key: f.get_tensor(key) for key in f.keys()}

    def given(key):
        return fixture[key].to(dev)

    out = {}
    processors = model._prepare_logits_processor(gen_cfg, None)
    sampler = model._prepare_sampler(gen_cfg)
    prompt = given("prompt")
    c = model.config.canvas_length
    with torch.no_grad():
        cache = model._prepare_cache_for_generation(gen_cfg, batch_size=1, max_length=prompt.shape[1] + 2 * c)
        out["prefill.hidden"] = encode(model, prompt, cache, 0)
        out["prompt"] = prompt
        committed = prompt.shape[1]
        sc = None
        # The fixture's schedule: k and whether the step conditions on the
        # one before it; the commit comes before step 3.
        for name, k, conditioned in (("step1", n, False), ("step2", n - 1, True), ("step3", n, False)):
            if name == "step3":
                ids = given("commit.ids")
                out["commit.hidden"] = encode(model, ids, cache, committed)
                out["commit.ids"] = ids
                committed += ids.shape[1]
            canvas = given(f"{name}.canvas")
            x, pos, temperature = decode(model, canvas, cache, committed, sc if conditioned else None, k,
                                         processors, prompt)
            argmax = torch.argmax(x, dim=-1)
            sampler.accept_canvas(canvas, argmax, x, k)
            out.update({
                f"{name}.canvas": canvas,
                f"{name}.positions": pos,
                f"{name}.k": torch.tensor([k]),
                f"{name}.self_conditioning": torch.tensor([int(conditioned)]),
                f"{name}.temperature": temperature.reshape(1),
                f"{name}.x": x,
                f"{name}.argmax": argmax,
                f"{name}.entropy": torch.distributions.Categorical(logits=x).entropy(),
                f"{name}.accepted": sampler.accepted_token_mask,
            })
            # What generate() conditions the next step on.
            sc = x.to(model.model.decoder.embed_tokens.weight.dtype)

    tensors = {}
    for key, t in out.items():
        t = t.detach().cpu().contiguous()
        tensors[key] = t.to(torch.int64) if not t.is_floating_point() else t.to(torch.float32)
    device_name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    meta = {"torch": torch.__version__, "transformers": transformers.__version__, "device": device_name,
            "dtype": "bfloat16"}
    save_file(tensors, args.out, metadata=meta)

    # How this bf16 run compares with the f32 fixture.
    summary = dict(meta, argmax_agree=0, positions=0, accepted_agree=0, steps=0, max_abs_x_diff=0.0)
    for name in ("step1", "step2", "step3"):
        summary["argmax_agree"] += int((tensors[f"{name}.argmax"] == fixture[f"{name}.argmax"]).sum())
        summary["positions"] += tensors[f"{name}.argmax"].numel()
        summary["accepted_agree"] += int(torch.equal(tensors[f"{name}.accepted"], fixture[f"{name}.accepted"]))
        summary["steps"] += 1
        diff = float((tensors[f"{name}.x"] - fixture[f"{name}.x"]).abs().max())
        summary["max_abs_x_diff"] = max(summary["max_abs_x_diff"], diff)
    print(json.dumps({"bf16_reference_vs_f32_fixture": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
