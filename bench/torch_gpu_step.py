"""Times transformers' DiffusionGemma on a GPU: one denoise step of the
26B-A4B shape (random bf16 weights, self-conditioning on) at a CONTEXT-token
committed prefix, for each BATCH of canvases, eager and with torch.compile;
prints one JSON line per (mode, batch) with milliseconds and the fraction of
the HBM bandwidth floor (every weight read once per step), each as soon as
it is known.

    python3 bench/torch_gpu_step.py CONFIG_DIR CONTEXT BATCH... [--no-compile]
        [--device cuda] [--deadline SECONDS]

Every batch runs eager first; torch.compile (slow to compile at this size)
comes after, and with --deadline only while time remains: SECONDS after the
start, a compile still under way is abandoned, and each compiled row not
timed by then is a line with "skipped" instead of "ms" (a compile that fails
gives "error"). --device cpu with a small config checks the script without
a GPU.
"""
import time

START = time.monotonic()  # --deadline counts the imports too

import argparse
import contextlib
import inspect
import json
import os
import signal
import statistics
import sys

import torch
from transformers import DiffusionGemmaConfig, DiffusionGemmaForBlockDiffusion, DynamicCache

from hbm import peak_bandwidth

DTYPE = torch.bfloat16
# Below this many seconds before the deadline a compile is not started.
MIN_COMPILE_S = 15


class Deadline(BaseException):
    """Raised by SIGALRM; a BaseException so that no `except Exception` in
    torch.compile takes it for a compile error and carries on."""


def cache_keyword(forward):
    """The name of forward's KV-cache argument: `past_key_values` in
    transformers 5.17, `cache` in later releases. Both models take
    **kwargs, which swallow the other name silently."""
    try:
        names = inspect.signature(forward).parameters
    except (TypeError, ValueError):
        names = {}
    for name in ("cache", "past_key_values"):
        if name in names:
            return name
    return "past_key_values"


def build(config, device):
    """Random bf16 weights, made on the device. The encoder and the decoder
    share their weights, tied only once both exist: built there directly,
    the model needs twice its bytes for a moment (103 GB at 26B-A4B). So
    its parameters are made on the meta device, tied there, then made on
    the device once each, filled with NaN and initialized by transformers;
    one left NaN means that path missed it, and the model is built directly
    instead."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(DTYPE)
    try:
        try:
            with torch.device(device), parameters_on_meta():
                model = DiffusionGemmaForBlockDiffusion(config)
            # post_init marked its modules initialized while the weights
            # were meta: unmark them, or init_weights skips them.
            for module in model.modules():
                module.__dict__.pop("_is_hf_initialized", None)
            model.tie_weights()
            made = materialize(model, device)
            model.init_weights()
            missed = [name for name, p in made if p.isnan().any()]
            if not missed:
                return model.eval()
            reason = f"{len(missed)} weights left uninitialized, {missed[0]} first"
        except Exception as e:  # a transformers that builds differently
            reason = f"{type(e).__name__}: {e}"
        print(f"torch_gpu_step: building with meta weights failed ({reason}); "
              f"building on {device}", file=sys.stderr, flush=True)
        model = made = None
        with torch.device(device):
            model = DiffusionGemmaForBlockDiffusion(config)
        for p in model.parameters():  # a sub-model whose config names another dtype
            if p.is_floating_point() and p.dtype != DTYPE:
                p.data = p.data.to(DTYPE)
        return model.eval()
    finally:
        torch.set_default_dtype(previous)


@contextlib.contextmanager
def parameters_on_meta():
    """Moves each parameter to the meta device as its module registers it;
    buffers (rotary frequencies, scales) keep the values their modules give
    them."""
    register = torch.nn.Module.register_parameter

    def on_meta(module, name, param):
        if param is not None and not param.is_meta:
            param = torch.nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register(module, name, param)
    torch.nn.Module.register_parameter = on_meta
    try:
        yield
    finally:
        torch.nn.Module.register_parameter = register


def materialize(model, device):
    """Replaces every meta parameter by a NaN-filled bf16 one on the
    device, one per tied parameter. Returns (name, parameter) for each."""
    made, names = {}, []
    for prefix, module in model.named_modules():
        for name, p in module._parameters.items():
            if p is None or not p.is_meta:
                continue
            if id(p) not in made:
                dtype = DTYPE if p.is_floating_point() else p.dtype
                new = torch.full(p.shape, float("nan") if p.is_floating_point() else 0,
                                 dtype=dtype, device=device)
                made[id(p)] = torch.nn.Parameter(new, requires_grad=p.requires_grad)
                names.append((f"{prefix}.{name}" if prefix else name, made[id(p)]))
            module._parameters[name] = made[id(p)]
    return names


def time_ms(fn, sync, runs=5):
    fn()
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def on_alarm(signum, frame):
    raise Deadline()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config_dir")
    parser.add_argument("context", type=int)
    parser.add_argument("batches", type=int, nargs="+")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--deadline", type=float, help="seconds after the start")
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    sync = (lambda: torch.cuda.synchronize(device)) if cuda else (lambda: None)
    left = (lambda: args.deadline - (time.monotonic() - START)) if args.deadline else (lambda: None)

    config = DiffusionGemmaConfig.from_pretrained(args.config_dir)
    torch.manual_seed(0)
    model = build(config, device)
    text = model.config.text_config
    C, V = model.config.canvas_length, text.vocab_size
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    name = torch.cuda.get_device_name(device) if cuda else device.type
    bw = peak_bandwidth(name)
    floor_ms = weight_bytes / bw * 1e3 if bw else None
    encode_kw = cache_keyword(model.model.encoder.forward)
    step_kw = cache_keyword(model.forward)

    def line(mode, b, **fields):
        print(json.dumps({"peer": "transformers", "mode": mode, "batch": b, "context": args.context,
                          "device": name, **fields}), flush=True)

    inputs = {}
    for b in args.batches:
        prompt = torch.randint(3, V - 8, (b, args.context), device=device)
        canvas = torch.randint(3, V - 8, (b, C), device=device)
        sc = torch.randn(b, C, V, device=device, dtype=DTYPE)
        cache = DynamicCache(config=text)
        with torch.no_grad():
            model.model.encoder(input_ids=prompt, **{encode_kw: cache})
        if cache.get_seq_length() == 0:
            raise SystemExit(f"torch_gpu_step: the encoder left the cache empty "
                             f"(passed as `{encode_kw}`)")
        inputs[b] = (canvas, sc, cache)

    def timed(m, b):
        canvas, sc, cache = inputs[b]

        def step():
            with torch.no_grad():
                logits = m(decoder_input_ids=canvas, self_conditioning_logits=sc, **{step_kw: cache}).logits
                x = logits.float() / 0.8
                x.argmax(-1)
                torch.distributions.Categorical(logits=x).entropy()
        ms = time_ms(step, sync)
        return {"ms": round(ms, 2), "weight_gb": round(weight_bytes / 1e9, 2),
                "floor_ms": round(floor_ms, 2) if floor_ms else None,
                "pct_of_floor": round(100 * floor_ms / ms, 1) if floor_ms else None}

    for b in args.batches:
        line("eager", b, **timed(model, b))
    if args.no_compile:
        return

    compiled, stop = torch.compile(model), None
    signal.signal(signal.SIGALRM, on_alarm)
    for b in args.batches:
        remaining = left()
        if stop is None and remaining is not None and remaining < MIN_COMPILE_S:
            stop = f"{max(int(remaining), 0)} s left of the {args.deadline:.0f} s deadline"
        if stop:
            line("torch.compile", b, skipped=stop)
            continue
        try:
            if remaining is not None:
                signal.alarm(max(1, int(remaining)))
            row = timed(compiled, b)
            signal.alarm(0)
            line("torch.compile", b, **row)
        except Deadline:
            # Whatever torch.compile was doing is left half done: no more
            # compiles, and no clean-up that might wait on its workers.
            line("torch.compile", b, skipped=f"the {args.deadline:.0f} s deadline passed")
            stop = "the deadline passed"
            for rest in args.batches[args.batches.index(b) + 1:]:
                line("torch.compile", rest, skipped=stop)
            os._exit(0)
        except Exception as e:
            signal.alarm(0)
            line("torch.compile", b, error=f"{type(e).__name__}: {str(e)[:300]}")
            stop = "torch.compile failed at an earlier batch"


if __name__ == "__main__":
    main()
