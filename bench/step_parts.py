#!/usr/bin/env python3
"""The weights each part of a DiffusionGemma denoise step reads, by the
names dgc's kernels carry (dg-gpu-name-kernels: `self_attn_q_proj`,
`moe_gate_up`, ...), computed from a config.json: parameters, bf16 bytes,
and the multiply-adds of a step's canvas rows with them. A profile summed
by part (bench/kernel_profile.py --config) then says how far each part is
from the time its weights take to stream at the HBM rate.

    python3 bench/step_parts.py CONFIG.json [--rows R] [--gpu NAME]
    python3 bench/step_parts.py CONFIG.json --check MODEL.dgm/manifest.json

Prints one line per part and the total; with --gpu (a name such as
"NVIDIA H200") each part's floor in milliseconds at the datasheet rate.
--check compares each part's parameters with the decoder weights of the
same part in a compiled module's weight table, and fails on a difference.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hbm import peak_bandwidth  # noqa: E402

BF16 = 2


def text_config(path):
    with open(path) as f:
        config = json.load(f)
    return config, config.get("text_config", config)


def parts(path):
    """{part: (parameters, parameters a row multiplies)} of the decoder
    graph's weights that GEMMs read, by kernel name: a row multiplies all
    of a dense part's, and top_k of num_experts of the experts'. The
    embedding counts twice (the LM head, then the self-conditioning's soft
    embedding read it each step)."""
    config, t = text_config(path)
    hidden, heads = t["hidden_size"], t["num_attention_heads"]
    layers = t["num_hidden_layers"]
    types = t.get("layer_types") or ["sliding_attention"] * layers
    out = {}

    share = t["top_k_experts"] / t["num_experts"] if t.get("num_experts") else 1

    def add(part, count, per_row=1.0):
        params, row = out.get(part, (0, 0))
        out[part] = (params + count, row + count * per_row)

    per_layer = t.get("per_layer_config")
    for index, kind in enumerate(types[:layers]):
        # Full layers take per_layer_config's geometry, else the global_*
        # fields (a head of 512 by default); they have no v_proj.
        full = kind == "full_attention"
        head_dim, kv = t["head_dim"], t["num_key_value_heads"]
        if per_layer is not None:
            layer = per_layer.get(str(index), {})
            head_dim = layer.get("head_dim", head_dim)
            kv = layer.get("num_key_value_heads", kv)
        elif full:
            head_dim = t.get("global_head_dim", 512)
            kv = t.get("num_global_key_value_heads", kv)
        add("self_attn_q_proj", heads * head_dim * hidden)
        add("self_attn_k_proj", kv * head_dim * hidden)
        if not full:
            add("self_attn_v_proj", kv * head_dim * hidden)
        add("self_attn_o_proj", hidden * heads * head_dim)
        for name in ("gate_proj", "up_proj", "down_proj"):
            add("mlp_" + name, t["intermediate_size"] * hidden)
        if t.get("num_experts"):
            experts, width = t["num_experts"], t["moe_intermediate_size"]
            add("moe_router", experts * hidden)
            add("moe_gate_up", experts * 2 * width * hidden, share)
            add("moe_down", experts * hidden * width, share)
    for name in ("gate_proj", "up_proj", "down_proj"):
        add("self_conditioning_" + name, t["intermediate_size"] * hidden)
    add("lm_head", t["vocab_size"] * hidden)
    add("soft_embedding", t["vocab_size"] * hidden)
    return out


# The decoder's weights each part reads, by the end of their names.
WEIGHT_PARTS = {
    "self_attn.q_proj.weight": ["self_attn_q_proj"],
    "self_attn.k_proj.weight": ["self_attn_k_proj"],
    "self_attn.v_proj.weight": ["self_attn_v_proj"],
    "self_attn.o_proj.weight": ["self_attn_o_proj"],
    "layers.*.mlp.gate_proj.weight": ["mlp_gate_proj"],
    "layers.*.mlp.up_proj.weight": ["mlp_up_proj"],
    "layers.*.mlp.down_proj.weight": ["mlp_down_proj"],
    "router.proj.weight": ["moe_router"],
    "experts.gate_up_proj": ["moe_gate_up"],
    "experts.down_proj": ["moe_down"],
    "self_conditioning.gate_proj.weight": ["self_conditioning_gate_proj"],
    "self_conditioning.up_proj.weight": ["self_conditioning_up_proj"],
    "self_conditioning.down_proj.weight": ["self_conditioning_down_proj"],
    "embed_tokens.weight": ["lm_head", "soft_embedding"],
}


def manifest_parts(path):
    """{part: parameters} of the decoder weights in a module's manifest."""
    import fnmatch
    with open(path) as f:
        tensors = json.load(f)["weights"]["tensors"]
    out = {}
    for tensor in tensors:
        name = tensor["name"]
        if not name.startswith("model.decoder."):
            continue
        count = 1
        for size in tensor["shape"]:
            count *= size
        for pattern, names in WEIGHT_PARTS.items():
            if fnmatch.fnmatch(name, "*" + pattern):
                for part in names:
                    out[part] = out.get(part, 0) + count
    return out


def canvas_rows(path):
    config, _ = text_config(path)
    return config.get("canvas_length", 256)


def take_options(argv, flags):
    """Removes each `FLAG VALUE` of `flags` from argv; {FLAG: VALUE}."""
    options = {}
    for flag in flags:
        if flag in argv:
            i = argv.index(flag)
            if i + 1 >= len(argv):
                sys.exit(f"{flag} needs a value")
            options[flag] = argv[i + 1]
            del argv[i:i + 2]
    return options


def main():
    argv = sys.argv[1:]
    options = take_options(argv, ("--rows", "--gpu", "--check"))
    if len(argv) != 1:
        sys.exit(__doc__)
    found = parts(argv[0])
    if "--check" in options:
        compiled = manifest_parts(options["--check"])
        differ = [f"{part}: {found.get(part, (0,))[0]} here, {compiled.get(part, 0)} there"
                  for part in sorted(set(found) | set(compiled))
                  if found.get(part, (0,))[0] != compiled.get(part, 0)]
        if differ:
            print("parts differ from the module's weight table:\n  " + "\n  ".join(differ))
            return 1
        print(f"{len(found)} parts agree with the module's weight table")
        return 0
    rows = int(options.get("--rows", canvas_rows(argv[0])))
    bandwidth = peak_bandwidth(options["--gpu"]) if "--gpu" in options else None
    rows_of = sorted(found.items(), key=lambda kv: -kv[1][0])
    rows_of.append(("all", tuple(sum(v[i] for v in found.values()) for i in (0, 1))))
    print(f"{'part':<28} {'GB':>7} {'GFLOP':>8}" + (f" {'floor ms':>8}" if bandwidth else ""))
    for part, (params, per_row) in rows_of:
        line = f"{part:<28} {params * BF16 / 1e9:>7.3f} {2 * rows * per_row / 1e9:>8.1f}"
        if bandwidth:
            line += f" {params * BF16 / bandwidth * 1e3:>8.3f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
