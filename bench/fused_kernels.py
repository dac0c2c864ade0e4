#!/usr/bin/env python3
"""Each fused op of a model on its own: dg IR for dgc, and the PyTorch peers.

    python3 bench/fused_kernels.py module CONFIG.json [--context N] [--rows R] > kernels.mlir
    python3 bench/fused_kernels.py peer CONFIG_DIR DIR [--runs R]

`module` writes one graph per fused kernel of the decoder step (and the
encoder's and vision tower's attention) at the config's shapes, in bf16,
batch 1: every operand is a weight named GRAPH.OPERAND, so that
`dgc-kernel-check` fills them from a seed on any device and times the
kernels alone. The attention graphs see a committed context of N tokens
(default 4096) before the canvas. --rows R gives every graph R rows of
queries (canvas positions, image patches) instead of the canvas length:
the same kernels at a size the host target checks in seconds. One graph
is not the model's: gemm_wide, a projection wide enough for the CUDA
target's 128 x 64 GEMM tile (as the LM head takes it) but with a depth
and rows that keep it cheap on the host, so that every warp's tile of it
is compared at any --rows.

`peer` reads what `dgc-kernel-check --out DIR` wrote (DIR/GRAPH.safetensors:
the operands and dgc's outputs; DIR/dgc.jsonl: its times) and runs the same
operands through transformers' DiffusionGemma code where it has the op
(router, experts, eager attention, the self-conditioning embedding, the LM
head's softcap) and PyTorch's own kernels where transformers calls them
(matmul); the step's categorical draw against its Gumbel-max hash written
in PyTorch, timed against torch.multinomial; one JSON line per graph with
both times, their ratio and how far
dgc's outputs are from PyTorch's. Where the fast PyTorch path rounds
differently from the op's contract (scaled_dot_product_attention keeps the
scores in f32; transformers' LM head rounds the logits to bf16), the
numbers come from the path that rounds as the contract does and the time
from the fast one.
"""
import json
import math
import statistics
import sys
import time
from pathlib import Path

TOP_K_PROBS = 64       # the sampler's top-k, as dgc's graphs build it
TEMPERATURE = 0.8      # the sampling graph's temperature
FLOAT_TOLERANCE = 0.02  # of the output's largest magnitude, per row
ROWS_AGREEING = {"moe": 0.9}  # routing near ties may pick other experts
# gemm_wide: 136 rows (a full tile of 128 and 8 more), 16424 columns (the
# CUDA target's wide-tile threshold of 16384, then a part tile of 40), a
# depth of 88 (two whole K tiles of 32 and a part one, a multiple of 8 so
# that its rows still go by cp.async).
WIDE_GEMM = {"rows": 136, "cols": 16424, "depth": 88}
DEFAULT_ROWS_AGREEING = 0.99


def text_shapes(config):
    """The decoder's dimensions: the sliding and the full layers differ."""
    text = config.get("text_config", config)
    heads, kv, dim = text["num_attention_heads"], text["num_key_value_heads"], text["head_dim"]
    full_dim, full_kv = text.get("global_head_dim"), text.get("num_global_key_value_heads")
    layer_types = text.get("layer_types", [])
    for index, override in text.get("per_layer_config", {}).items():
        if int(index) < len(layer_types) and layer_types[int(index)] == "full_attention":
            full_dim = override.get("head_dim", full_dim)
            full_kv = override.get("num_key_value_heads", full_kv)
    return {
        "hidden": text["hidden_size"], "heads": heads, "kv": kv, "dim": dim,
        "full_dim": full_dim or dim, "full_kv": full_kv or kv,
        "window": text["sliding_window"], "experts": text["num_experts"],
        "top_k": text["top_k_experts"], "moe_dim": text["moe_intermediate_size"],
        "vocab": text["vocab_size"], "softcap": text.get("final_logit_softcapping") or 0.0,
        "eps": text["rms_norm_eps"], "canvas": config["canvas_length"],
    }


def vision_shapes(config):
    vision = config.get("vision_config")
    if not vision:
        return None
    patches = config["vision_soft_tokens_per_image"] * vision["pooling_kernel_size"] ** 2
    return {"heads": vision["num_attention_heads"], "kv": vision["num_key_value_heads"],
            "dim": vision["head_dim"], "patches": patches}


def number(x):
    """A float as MLIR spells it (always with a mantissa's point)."""
    return f"{float(x):.17e}"


def tensor(shape, element="bf16"):
    return "tensor<" + "x".join(str(d) for d in shape) + "x" + element + ">"


class Graph:
    """One func.func whose operands are weights named NAME.OPERAND."""

    def __init__(self, name):
        self.name, self.lines, self.count = name, [], 0

    def value(self):
        self.count += 1
        return f"%v{self.count}"

    def op(self, text):
        v = self.value()
        self.lines.append(f"    {v} = {text}")
        return v

    def weight(self, operand, shape):
        return self.op(f'dg.weight "{self.name}.{operand}" : {tensor(shape)}')

    def text(self, results):
        outs = ", ".join(f'{t} {{dg.name = "{n}"}}' for n, _, t in results)
        rets = ", ".join(v for _, v, _ in results)
        types = ", ".join(t for _, _, t in results)
        return (f"  func.func @{self.name}() -> ({outs}) {{\n" + "\n".join(self.lines) +
                f"\n    return {rets} : {types}\n  }}\n")


def attention(name, heads, kv, dim, queries, keys, first_query, mask, window=0, committed=None):
    """softmax(q K^T + mask) V over `keys` keys, queries at positions
    first_query.. (dg.mask of `mask`), as dg.masked_attention."""
    g = Graph(name)
    q = g.weight("q", [1, queries, heads, dim])
    k = g.weight("keys", [1, keys, kv, dim])
    v = g.weight("values", [1, keys, kv, dim])
    qi = g.op(f"dg.iota : {tensor([queries], 'i32')}")
    first = g.op(f"arith.constant dense<{first_query}> : {tensor([1, 1], 'i32')}")
    qp = g.op(f"dg.add {first}, {qi} : {tensor([1, 1], 'i32')}, {tensor([queries], 'i32')} -> "
              f"{tensor([1, queries], 'i32')}")
    ki = g.op(f"dg.iota : {tensor([keys], 'i32')}")
    kp = g.op(f"dg.reshape {ki} : {tensor([keys], 'i32')} -> {tensor([1, keys], 'i32')}")
    operands, types = f"{qp}, {kp}", f"{tensor([1, queries], 'i32')}, {tensor([1, keys], 'i32')}"
    if committed is not None:
        lengths = g.op(f"arith.constant dense<{committed}> : {tensor([1], 'i32')}")
        operands, types = operands + f", {lengths}", types + f", {tensor([1], 'i32')}"
    window_attr = f", window = {window} : i64" if window else ""
    m = g.op(f"dg.mask {operands} {{kind = #dg<mask_kind {mask}>{window_attr}}} : {types} -> "
             f"{tensor([1, queries, keys])}")
    out = tensor([1, queries, heads, dim])
    init = g.op(f"tensor.empty() : {out}")
    o = g.op(f"dg.masked_attention {q}, {k}, {v}, {m} into {init} {{scale = 1.0 : f64}} : "
             f"{tensor([1, queries, heads, dim])}, {tensor([1, keys, kv, dim])}, "
             f"{tensor([1, keys, kv, dim])}, {tensor([1, queries, keys])} into {out} -> {out}")
    return g.text([("out", o, out)])


def kernel_graphs(config, context, rows=None):
    s = text_shapes(config)
    C, H = rows or s["canvas"], s["hidden"]
    keys = context + C
    graphs = []

    g = Graph("gemm_q_proj")  # a projection: [C, H] x [heads * dim, H]^T
    n = s["heads"] * s["dim"]
    x, w = g.weight("x", [1, C, H]), g.weight("w", [n, H])
    y = g.op(f"dg.matmul {x}, {w} {{transpose_rhs}} : {tensor([1, C, H])}, {tensor([n, H])} -> "
             f"{tensor([1, C, n])}")
    graphs.append(g.text([("out", y, tensor([1, C, n]))]))

    g = Graph("gemm_wide")  # every fragment of the wide tile, and its edges
    r, n, k = WIDE_GEMM["rows"], WIDE_GEMM["cols"], WIDE_GEMM["depth"]
    x, w = g.weight("x", [1, r, k]), g.weight("w", [n, k])
    y = g.op(f"dg.matmul {x}, {w} {{transpose_rhs}} : {tensor([1, r, k])}, {tensor([n, k])} -> "
             f"{tensor([1, r, n])}")
    graphs.append(g.text([("out", y, tensor([1, r, n]))]))

    graphs.append(attention("attention_sliding", s["heads"], s["kv"], s["dim"], C, keys, context,
                            "canvas", s["window"], committed=context))
    graphs.append(attention("attention_full", s["heads"], s["full_kv"], s["full_dim"], C, keys,
                            context, "canvas", committed=context))
    graphs.append(attention("attention_causal", s["heads"], s["kv"], s["dim"], C, keys, context,
                            "causal", s["window"]))
    v = vision_shapes(config)
    if v:
        graphs.append(attention("attention_vision", v["heads"], v["kv"], v["dim"],
                                min(rows or v["patches"], v["patches"]), v["patches"], 0,
                                "bidirectional"))

    g = Graph("moe")
    E, I = s["experts"], s["moe_dim"]
    ops = [g.weight("router_input", [1, C, H]), g.weight("expert_input", [1, C, H]),
           g.weight("router_scale", [H]), g.weight("router_proj", [E, H]),
           g.weight("per_expert_scale", [E]), g.weight("gate_up", [E, 2 * I, H]),
           g.weight("down", [E, H, I])]
    types = [tensor([1, C, H]), tensor([1, C, H]), tensor([H]), tensor([E, H]), tensor([E]),
             tensor([E, 2 * I, H]), tensor([E, H, I])]
    y = g.op(f"dg.moe {', '.join(ops)} {{epsilon = {number(s['eps'])} : f64, top_k = {s['top_k']} : i64}} : "
             f"{', '.join(types)} -> {tensor([1, C, H])}")
    graphs.append(g.text([("out", y, tensor([1, C, H]))]))

    # The MoE block's router alone, as dg.moe lowers it: its choices are an
    # output, so a comparison sees every expert a row picks. With operands
    # as small as a random-weight step's (dgc-kernel-check --scale 0.03)
    # the 128 probabilities of a row are near ties.
    g = Graph("router")
    x, scale, proj = (g.weight("router_input", [1, C, H]), g.weight("router_scale", [H]),
                      g.weight("router_proj", [E, H]))
    z = g.op(f"dg.rms_norm {x} {{epsilon = {number(s['eps'])} : f64}} : {tensor([1, C, H])}")
    z = g.op(f"dg.mul {z}, {scale} : {tensor([1, C, H])}, {tensor([H])} -> {tensor([1, C, H])}")
    root = g.op(f"arith.constant dense<{number(1 / math.sqrt(H))}> : tensor<bf16>")
    z = g.op(f"dg.mul {z}, {root} : {tensor([1, C, H])}, tensor<bf16> -> {tensor([1, C, H])}")
    logits = g.op(f"dg.matmul {z}, {proj} {{transpose_rhs}} : {tensor([1, C, H])}, {tensor([E, H])} -> "
                  f"{tensor([1, C, E])}")
    logits = g.op(f"dg.cast {logits} : {tensor([1, C, E])} -> {tensor([1, C, E], 'f32')}")
    probs = g.op(f"dg.softmax {logits} {{axis = 2 : i64}} : {tensor([1, C, E], 'f32')}")
    k = s["top_k"]
    g.count += 1
    top = f"%v{g.count}"
    g.lines.append(f"    {top}:2 = dg.top_k {probs} {{k = {k} : i64}} : {tensor([1, C, E], 'f32')} -> "
                   f"{tensor([1, C, k], 'f32')}, {tensor([1, C, k], 'i32')}")
    graphs.append(g.text([("probs", f"{top}#0", tensor([1, C, k], "f32")),
                          ("experts", f"{top}#1", tensor([1, C, k], "i32"))]))

    g = Graph("sample")
    V = s["vocab"]
    h, e = g.weight("hidden", [1, C, H]), g.weight("embedding", [V, H])
    temp = g.op(f"arith.constant dense<{number(TEMPERATURE)}> : {tensor([1], 'f32')}")
    results = [("logits", tensor([1, C, V])), ("argmax", tensor([1, C], "i32")),
               ("topk_probs", tensor([1, C, TOP_K_PROBS], "f32")),
               ("topk_ids", tensor([1, C, TOP_K_PROBS], "i32")), ("entropy", tensor([1, C], "f32"))]
    g.count += 1
    base = f"%v{g.count}"
    g.lines.append(f"    {base}:5 = dg.sample {h}, {e}, {temp} {{softcap = {number(s['softcap'])} : f64, "
                   f"top_k = {TOP_K_PROBS} : i64}} : {tensor([1, C, H])}, {tensor([V, H])}, "
                   f"{tensor([1], 'f32')} -> {', '.join(t for _, t in results)}")
    graphs.append(g.text([(n, f"{base}#{i}", t) for i, (n, t) in enumerate(results)]))

    g = Graph("categorical_sample")  # the step's full-vocabulary draw
    x = g.weight("logits", [1, C, V])
    i = g.op(f"dg.iota : {tensor([C], 'i32')}")
    seeds = g.op(f"dg.reshape {i} : {tensor([C], 'i32')} -> {tensor([1, C], 'i32')}")
    y = g.op(f"dg.categorical_sample {x}, {seeds} : {tensor([1, C, V])}, {tensor([1, C], 'i32')} -> "
             f"{tensor([1, C], 'i32')}")
    graphs.append(g.text([("out", y, tensor([1, C], "i32"))]))

    g = Graph("soft_embedding")
    l, e = g.weight("logits", [1, C, V]), g.weight("embedding", [V, H])
    y = g.op(f"dg.soft_embedding {l}, {e} {{scale = {number(math.sqrt(H))} : f64}} : {tensor([1, C, V])}, "
             f"{tensor([V, H])} -> {tensor([1, C, H])}")
    graphs.append(g.text([("out", y, tensor([1, C, H]))]))
    return s, graphs


def write_module(argv):
    config_path = argv[0]
    context = int(argv[argv.index("--context") + 1]) if "--context" in argv else 4096
    rows = int(argv[argv.index("--rows") + 1]) if "--rows" in argv else None
    config = json.loads(Path(config_path).read_text())
    s, graphs = kernel_graphs(config, context, rows)
    print(f"// The fused kernels of {config_path} one by one (bench/fused_kernels.py), "
          f"context {context}, {rows or s['canvas']} rows.")
    print(f'module attributes {{dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, '
          f'canvas_length = {s["canvas"]}, vocab_size = {s["vocab"]}, '
          f'hidden_size = {s["hidden"]}>}} {{')
    print("".join(graphs), end="")
    print("}")


# ---------------------------------------------------------------------------
# The PyTorch peers.

def peers(config_dir, device):
    """GRAPH -> prepare(operands) -> run() -> outputs, through transformers'
    code; and the graphs whose timed peer is another one (transformers' own
    path where it rounds differently from the op's contract). prepare does
    the work that depends only on the operands (masks, loading weights into
    modules), so that run(), which is timed, is the op alone."""
    import torch
    import torch.nn.functional as F
    from transformers import DiffusionGemmaConfig
    from transformers.models.diffusion_gemma import modeling_diffusion_gemma as dg

    config = DiffusionGemmaConfig.from_pretrained(config_dir)
    text = config.text_config
    raw = json.loads((Path(config_dir) / "config.json").read_text())
    s = text_shapes(raw)

    def mask(kind, queries, keys, first, window=0, committed=0):
        q = torch.arange(queries, device=device)[:, None] + first
        k = torch.arange(keys, device=device)[None, :]
        if kind == "causal":
            seen = (k <= q) & ((q - k < window) if window else True)
        elif kind == "canvas":
            seen = (k >= committed) | ((k >= committed - (window - 1)) if window else True)
            seen = seen.expand(queries, keys)
        else:
            seen = torch.ones(queries, keys, dtype=torch.bool, device=device)
        m = torch.zeros(queries, keys, dtype=torch.bfloat16, device=device)
        return m.masked_fill(~seen, float("-inf"))[None, None]

    class Groups(torch.nn.Module):  # what transformers' attention reads of its layer
        def __init__(self, groups):
            super().__init__()
            self.num_key_value_groups = groups
            self.training = False

    def attention(kind, window=0, exact=True):
        def prepare(t):
            q, k, v = (t[n].transpose(1, 2) for n in ("q", "keys", "values"))
            # The queries are the last rows: a committed context before them.
            context = k.shape[2] - q.shape[2] if kind != "bidirectional" else 0
            m = mask(kind, q.shape[2], k.shape[2], context, window, context)
            groups = Groups(q.shape[1] // k.shape[1])
            if exact:
                # transformers' eager attention rounds the scores to bf16 as
                # dg.masked_attention's contract does.
                return lambda: {"out": dg.eager_attention_forward(groups, q, k, v, m,
                                                                  scaling=1.0)[0]}
            # What transformers' sdpa attention calls: PyTorch's fused
            # kernels, which keep the scores in f32; the timed peer.
            return lambda: {"out": F.scaled_dot_product_attention(
                q, k, v, attn_mask=m, scale=1.0,
                enable_gqa=groups.num_key_value_groups > 1).transpose(1, 2)}
        return prepare

    router = dg.DiffusionGemmaTextRouter(text).to(device, torch.bfloat16)
    # transformers' experts dispatch: its grouped GEMM on a GPU, else the
    # loop over experts.
    text._experts_implementation = "grouped_mm" if device == "cuda" else "eager"
    experts = dg.DiffusionGemmaTextExperts(text).to(device, torch.bfloat16)

    def moe(t):
        with torch.no_grad():
            router.proj.weight.copy_(t["router_proj"])
            router.scale.copy_(t["router_scale"])
            router.per_expert_scale.copy_(t["per_expert_scale"])
            experts.gate_up_proj.copy_(t["gate_up"])
            experts.down_proj.copy_(t["down"])
        r, x = t["router_input"].flatten(0, 1), t["expert_input"].flatten(0, 1)

        def run():
            _, weights, index = router(r)
            try:
                y = experts(x, index, weights)
            except Exception as e:  # an older GPU or PyTorch without it
                print(f"peer: experts '{text._experts_implementation}' failed ({e}); "
                      "eager instead", file=sys.stderr)
                text._experts_implementation = "eager"
                y = experts(x, index, weights)
            return {"out": y.view_as(t["expert_input"])}
        return run

    def sample(t, exact=True):
        # DiffusionGemmaForBlockDiffusion's head and sampler. Its LM head
        # rounds the logits to bf16 before the softcap; dg.sample's contract
        # keeps them in f32, so the numbers are checked in f32 and the time
        # is transformers' bf16 path.
        h, e = (t["hidden"].float(), t["embedding"].float()) if exact else (t["hidden"], t["embedding"])

        def run():
            logits = F.linear(h, e).float()  # the head's bf16, then its softcap in f32
            if s["softcap"]:
                logits = torch.tanh(logits / s["softcap"]) * s["softcap"]
            x = logits.float() / TEMPERATURE
            top = x.softmax(-1).topk(TOP_K_PROBS, dim=-1)
            return {"logits": x.to(torch.bfloat16), "argmax": x.argmax(-1),
                    "topk_probs": top.values, "topk_ids": top.indices,
                    "entropy": torch.distributions.Categorical(logits=x).entropy()}
        return run

    def categorical_sample(t, exact=True):
        # dg.categorical_sample's Gumbel-max, its hash written out in PyTorch
        # (seeds 0..C-1 as the graph makes them), for the numbers; for the
        # time, PyTorch's own full-vocabulary draw (torch.multinomial).
        x = t["logits"].float()
        rows, vocab = x.shape[-2], x.shape[-1]
        mask = 0xFFFFFFFF

        def mul32(h, c):  # (h * c) mod 2^32 without overflowing int64
            return (h * (c & 0xFFFF) + (((h * (c >> 16)) & 0xFFFF) << 16)) & mask

        def fmix32(h):
            h = mul32(h ^ (h >> 16), 0x85EBCA6B)
            h = mul32(h ^ (h >> 13), 0xC2B2AE35)
            return h ^ (h >> 16)

        def run():
            index = torch.arange(vocab, device=x.device, dtype=torch.int64)
            seeds = torch.arange(rows, device=x.device, dtype=torch.int64)[:, None]
            h = fmix32(seeds ^ fmix32(index))
            u = ((h >> 9).float() + 0.5) * 2.0 ** -23
            return {"out": (x + -torch.log(-torch.log(u))).argmax(-1)}

        def draw():
            p = x.view(-1, vocab).softmax(-1)
            return {"out": torch.multinomial(p, 1).view(x.shape[:-1])}
        return run if exact else draw

    def soft_embedding(t):
        # The decoder's self-conditioning input (DiffusionGemmaDecoderModel.forward).
        e, logits = t["embedding"], t["logits"]
        scale = torch.tensor(math.sqrt(s["hidden"]), dtype=e.dtype, device=e.device)

        def run():
            p = logits.softmax(dim=-1, dtype=torch.float32).to(e.dtype)
            return {"out": torch.matmul(p, e) * scale}
        return run

    return {
        "gemm_q_proj": lambda t: lambda: {"out": F.linear(t["x"], t["w"])},
        "gemm_wide": lambda t: lambda: {"out": F.linear(t["x"], t["w"])},
        "attention_sliding": attention("canvas", s["window"]),
        "attention_full": attention("canvas"),
        "attention_causal": attention("causal", s["window"]),
        "attention_vision": attention("bidirectional"),
        "moe": moe, "sample": sample, "soft_embedding": soft_embedding,
        "categorical_sample": categorical_sample,
    }, {
        "attention_sliding": attention("canvas", s["window"], exact=False),
        "attention_full": attention("canvas", exact=False),
        "attention_causal": attention("causal", s["window"], exact=False),
        "attention_vision": attention("bidirectional", exact=False),
        "sample": lambda t: sample(t, exact=False),
        "categorical_sample": lambda t: categorical_sample(t, exact=False),
    }


def time_ms(fn, runs):
    import torch
    fn()
    times = []
    for _ in range(runs):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def difference(got, want):
    """How far dgc's output is from PyTorch's: integers by the fraction that
    differ, floats by the largest error over the largest magnitude, and the
    fraction of rows (the last axis) within FLOAT_TOLERANCE of it."""
    if not want.is_floating_point():
        return {"mismatch": round((got.long() != want.long()).float().mean().item(), 5)}
    got, want = got.float(), want.float()
    scale = want.abs().max().clamp_min(1e-30)
    rows = ((got - want).abs().amax(-1) <= FLOAT_TOLERANCE * scale).float().mean()
    return {"max_error": finite(((got - want).abs().max() / scale).item()),
            "rows_agreeing": round(rows.item(), 5)}


def finite(x, digits=5):
    """x rounded, or None (JSON's null, as dgc-kernel-check writes it) for
    NaN and infinities, which JSON has no spelling for."""
    return round(x, digits) if x is not None and math.isfinite(x) else None


def peer_row(name, path, fn, timed_fn, runs, device, dgc_ms):
    """The JSON row of one graph: PyTorch's outputs on dgc's operands, set
    against dgc's outputs, and both times."""
    import torch
    from safetensors.torch import load_file

    tensors = {k: v.to(device) for k, v in load_file(str(path)).items()}
    operands = {k: v for k, v in tensors.items() if not k.startswith("out.")}
    with torch.no_grad():
        want = fn(operands)()
        ms = time_ms(timed_fn(operands), runs)
    outputs, passed = {}, True
    for key, value in want.items():
        if "out." + key not in tensors:
            outputs[key], passed = {"missing": True}, False
            continue
        d = difference(tensors["out." + key], value)
        outputs[key] = d
        if "mismatch" in d:
            passed &= d["mismatch"] <= 0.01
        else:
            # A NaN or an infinity fails the graph whatever the rows: the
            # routing's tolerance is for near ties, not for those.
            passed &= d["max_error"] is not None
            passed &= d["rows_agreeing"] >= ROWS_AGREEING.get(name, DEFAULT_ROWS_AGREEING)
    ratio = ms / dgc_ms if dgc_ms and math.isfinite(dgc_ms) else None
    return {"kernel": name, "peer": "pytorch " + torch.__version__, "device": device,
            "peer_ms": round(ms, 3), "dgc_ms": dgc_ms, "dgc_vs_peer": finite(ratio, 3),
            "outputs": outputs, "passed": bool(passed)}


def run_peers(argv):
    import torch

    config_dir, out = argv[0], Path(argv[1])
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 5
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dgc_ms = {}
    if (out / "dgc.jsonl").exists():
        for line in (out / "dgc.jsonl").read_text().splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                dgc_ms[row.get("kernel")] = row.get("ms")
    fns, timed = peers(config_dir, device)
    failed = False
    for path in sorted(out.glob("*.safetensors")):
        name = path.stem
        if name not in fns:
            continue
        # One graph's failure (a missing output, an op this PyTorch lacks,
        # memory) is its row's, not every later graph's.
        try:
            row = peer_row(name, path, fns[name], timed.get(name, fns[name]), runs, device,
                           dgc_ms.get(name))
        except Exception as e:
            row = {"kernel": name, "peer": "pytorch " + torch.__version__, "device": device,
                   "error": f"{type(e).__name__}: {str(e)[:300]}", "passed": False}
        failed |= not row["passed"]
        print(json.dumps(row), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "module":
        write_module(sys.argv[2:])
    elif len(sys.argv) >= 4 and sys.argv[1] == "peer":
        sys.exit(run_peers(sys.argv[2:]))
    else:
        sys.exit(__doc__)
