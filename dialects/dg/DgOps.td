//===- DgOps.td - Operations of the dg dialect -------------*- tablegen -*-===//

#ifndef DG_OPS_TD
#define DG_OPS_TD

include "DgBase.td"
include "DgAttrs.td"
include "DgTypes.td"
include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/BuiltinAttributes.td"

class Dg_Op<string mnemonic, list<Trait> traits = []>
    : Op<Dg_Dialect, mnemonic, traits>;

def Dg_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Dg_I32Tensor : RankedTensorOf<[I32]>;
def Dg_KVCacheResource : Resource<"::dgc::dg::KVCacheResource">;

//===----------------------------------------------------------------------===//
// Weights and the KV cache
//===----------------------------------------------------------------------===//

def Dg_WeightOp : Dg_Op<"weight", [Pure]> {
  let summary = "A checkpoint tensor, referenced by name";
  let description = [{
    Names one tensor of the model's checkpoint by its own name (as stored in
    the safetensors files, e.g. `model.decoder.layers.0.self_attn.q_proj.weight`).
    The result type gives the tensor's shape and the element type the graph
    computes with; the runtime binds the checkpoint tensor and converts it.

    ```mlir
    %wq = dg.weight "model.decoder.layers.0.self_attn.q_proj.weight" : tensor<4096x2816xbf16>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Dg_KVCacheWriteOp : Dg_Op<"kv_cache_write",
    [MemoryEffects<[MemWrite<Dg_KVCacheResource>]>]> {
  let summary = "Write K/V rows of one layer into the paged cache";
  let description = [{
    Stores `key[b, t]` and `value[b, t]` (each `[kv_heads, head_dim]`) of
    layer `layer` of the pool at position `positions[b, t]` of request `b`.

    Without `scratch`, this is a commit: the rows become part of the
    committed prefix and the runtime advances each request's committed length
    past them once the graph has run (encoder mode). With `scratch`, the rows
    are canvas scratch: they must lie at or after the committed length, the
    committed length does not move, and the next write to the same positions
    overwrites them (decoder mode).

    ```mlir
    dg.kv_cache_write %cache[3], %k, %v, %pos {scratch}
        : !dg.kv_cache<sliding, layers = 25, kv_heads = 8, head_dim = 256, window = 1024, bf16>,
          tensor<?x256x8x256xbf16>, tensor<?x256x8x256xbf16>, tensor<?x256xi32>
    ```
  }];
  let arguments = (ins Dg_KVCacheType:$cache, Dg_FloatTensor:$key,
                       Dg_FloatTensor:$value, Dg_I32Tensor:$positions,
                       I64Attr:$layer, UnitAttr:$scratch);
  let assemblyFormat = [{
    $cache `[` $layer `]` `,` $key `,` $value `,` $positions attr-dict `:`
    qualified(type($cache)) `,` type($key) `,` type($value) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def Dg_KVCacheReadOp : Dg_Op<"kv_cache_read",
    [MemoryEffects<[MemRead<Dg_KVCacheResource>]>]> {
  let summary = "Read the K/V rows of one layer from the paged cache";
  let description = [{
    Reads positions `[0, lengths[b])` of layer `layer` for every request `b`
    (committed rows, then any canvas scratch written before in the same
    graph). Results are padded to a common length `S`: `keys` and `values`
    are `[B, S, kv_heads, head_dim]` and `positions[b, s]` is the position
    row `s` holds, or `-1` for padding (padded K/V rows are zero). Rows are
    in position order; a sliding pool may leave out the keys before its
    window (below the committed length minus `window - 1`), which no query
    of the graph sees, so row `s` need not be position `s`. Masks built from
    these positions hide the padding.

    ```mlir
    %k, %v, %kpos = dg.kv_cache_read %cache[3], %len : !dg.kv_cache<...>, tensor<?xi32>
        -> tensor<?x?x8x256xbf16>, tensor<?x?x8x256xbf16>, tensor<?x?xi32>
    ```
  }];
  let arguments = (ins Dg_KVCacheType:$cache, Dg_I32Tensor:$lengths,
                       I64Attr:$layer);
  let results = (outs Dg_FloatTensor:$keys, Dg_FloatTensor:$values,
                      Dg_I32Tensor:$positions);
  let assemblyFormat = [{
    $cache `[` $layer `]` `,` $lengths attr-dict `:` qualified(type($cache)) `,`
    type($lengths) `->` type($keys) `,` type($values) `,` type($positions)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Linear algebra, normalisation, position encodings
//===----------------------------------------------------------------------===//

def Dg_MatmulOp : Dg_Op<"matmul", [Pure]> {
  let summary = "Batched matrix product with optional transposes";
  let description = [{
    `result[..., m, n] = sum_k A[..., m, k] * B[..., k, n]` where `A` is `lhs`
    (its last two dimensions swapped when `transpose_lhs`) and `B` is `rhs`
    (swapped when `transpose_rhs`). Leading batch dimensions broadcast like
    NumPy, so a rank-2 weight multiplies every row of a batch. Operands share
    an element type; products accumulate in f32 and the result takes its own
    float type, so `fp32(x @ W^T)` is one op.

    ```mlir
    %y = dg.matmul %x, %w {transpose_rhs} : tensor<?x256x2816xbf16>, tensor<4096x2816xbf16> -> tensor<?x256x4096xbf16>
    ```
  }];
  let arguments = (ins Dg_FloatTensor:$lhs, Dg_FloatTensor:$rhs,
                       UnitAttr:$transpose_lhs, UnitAttr:$transpose_rhs);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Dg_RMSNormOp : Dg_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMS normalisation over the last dimension";
  let description = [{
    `y = x * rsqrt(mean(x^2, -1) + epsilon) * weight`, computed in f32 and
    rounded once to the element type. There is no `1 + weight` offset. Without
    `weight` it is the "no-scale" norm.

    ```mlir
    %y = dg.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : tensor<?x2816xbf16>, tensor<2816xbf16>
    %z = dg.rms_norm %x {epsilon = 1.0e-06 : f64} : tensor<?x2816xbf16>
    ```
  }];
  let arguments = (ins Dg_FloatTensor:$input, Optional<Dg_FloatTensor>:$weight,
                       F64Attr:$epsilon);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`,` $weight^)? attr-dict `:` type($input) (`,` type($weight)^)?
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$weight,
                   "double":$epsilon)>
  ];
  let hasVerifier = 1;
}

def Dg_RopeOp : Dg_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Rotary position embedding (rotate-half style)";
  let description = [{
    Rotates `input` of shape `[B, T, heads, head_dim]` by the token positions.
    Channels `i` and `i + head_dim/2` form a pair rotated by the angle
    `position * inv_freq[i]` (rotate-half, NeoX style), in f32.

    * `default`: `inv_freq[i] = theta^(-2i/head_dim)` for every pair;
      `positions` is `[B, T]`.
    * `proportional`: only the first `partial_rotary_factor * head_dim / 2`
      pairs rotate, with `inv_freq[i] = theta^(-2i/head_dim)` (the
      denominator is the full head_dim); the other pairs pass through.
      `positions` is `[B, T]`.
    * `two_d`: the head's channels split into two halves; the first half is
      rotated (default style, over `head_dim/2` channels) by the x coordinate
      `positions[b, t, 0]`, the second by the y coordinate
      `positions[b, t, 1]`. `positions` is `[B, T, 2]`.

    ```mlir
    %q2 = dg.rope %q, %pos {kind = #dg<rope_kind proportional>, theta = 1.0e+06 : f64, partial_rotary_factor = 2.5e-01 : f64}
        : tensor<?x?x16x512xbf16>, tensor<?x?xi32>
    ```
  }];
  let arguments = (ins Dg_FloatTensor:$input, Dg_I32Tensor:$positions,
                       Dg_RopeKindAttr:$kind, F64Attr:$theta,
                       DefaultValuedAttr<F64Attr, "1.0">:$partial_rotary_factor);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $positions attr-dict `:` type($input) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def Dg_GatedGeluOp : Dg_Op<"gated_gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "gelu_tanh(gate) * up";
  let description = [{
    The gated activation of every Gemma MLP, with the tanh approximation of
    GELU: `0.5 * g * (1 + tanh(sqrt(2/pi) * (g + 0.044715 g^3))) * up`.
  }];
  let arguments = (ins Dg_FloatTensor:$gate, Dg_FloatTensor:$up);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

//===----------------------------------------------------------------------===//
// Softmax, reductions, selection
//===----------------------------------------------------------------------===//

def Dg_SoftmaxOp : Dg_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "Softmax along one axis";
  let description = [{
    `exp(x - max(x)) / sum(exp(x - max(x)))` along `axis`, in f32.
  }];
  let arguments = (ins Dg_FloatTensor:$input, I64Attr:$axis);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Dg_ReduceOp : Dg_Op<"reduce", [Pure]> {
  let summary = "Reduction along one axis (sum, max, mean, logsumexp)";
  let description = [{
    Reduces `input` along `axis`, which is removed from the result shape.
    Float inputs accumulate in f32; `max` also accepts i32.
  }];
  let arguments = (ins AnyRankedTensor:$input, Dg_ReduceKindAttr:$kind,
                       I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$kind $input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Dg_TopKOp : Dg_Op<"top_k", [Pure]> {
  let summary = "The k largest values along the last axis, and their indices";
  let description = [{
    Returns the `k` largest values of the last axis in descending order and
    their indices (i32). Equal values keep the lower index first.
  }];
  let arguments = (ins Dg_FloatTensor:$input, I64Attr:$k);
  let results = (outs Dg_FloatTensor:$values, Dg_I32Tensor:$indices);
  let assemblyFormat = [{
    $input attr-dict `:` type($input) `->` type($values) `,` type($indices)
  }];
  let hasVerifier = 1;
}

def Dg_ArgmaxOp : Dg_Op<"argmax", [Pure]> {
  let summary = "Index of the largest value along the last axis";
  let description = "The first index of the maximum of the last axis (i32).";
  let arguments = (ins Dg_FloatTensor:$input);
  let results = (outs Dg_I32Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Dg_CategoricalSampleOp : Dg_Op<"categorical_sample", [Pure]> {
  let summary = "One draw from softmax(logits) per row, by Gumbel-max";
  let description = [{
    For each row of `logits` (the last axis), the index
    `argmax_i (f32(logits[..., i]) + g(seeds[...], i))`, where
    `g(s, i) = -log(-log(u))`, `u = ((h >> 9) + 0.5) / 2^23` and
    `h = fmix32(s ^ fmix32(i))` in u32 arithmetic (`fmix32` is
    MurmurHash3's finalizer). Every such `u` is an f32 strictly inside
    (0, 1), so the noise is finite (with 24 bits, `2^24 - 0.5` rounded to
    `2^24` in f32: `u` was 1 and the noise infinite once in 2^24 draws). Gumbel noise added to the logits makes the
    argmax a draw from the categorical distribution `softmax(logits)` over
    the whole row, without its normalisation or a prefix sum; the seed alone
    decides it, so the same seeds draw the same tokens on every target (up
    to the rounding of `log` near ties). Ties go to the lower index.
  }];
  let arguments = (ins Dg_FloatTensor:$logits, Dg_I32Tensor:$seeds);
  let results = (outs Dg_I32Tensor:$result);
  let assemblyFormat = [{
    $logits `,` $seeds attr-dict `:` type($logits) `,` type($seeds) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Gather, scatter, masks, positions
//===----------------------------------------------------------------------===//

def Dg_GatherOp : Dg_Op<"gather", [Pure]> {
  let summary = "Rows of a table by index (embedding lookup)";
  let description = [{
    `result[i..., j...] = table[indices[i...], j...]`: the result shape is the
    indices' shape followed by the table's trailing dimensions. An index
    outside `[0, rows)` (such as `-1` for padding) yields a zero row.
  }];
  let arguments = (ins Dg_FloatTensor:$table, Dg_I32Tensor:$indices);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $indices `]` attr-dict `:` type($table) `,` type($indices) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Dg_ScatterOp : Dg_Op<"scatter", [Pure]> {
  let summary = "Spread k values per row into a dense last axis";
  let description = [{
    `result[..., j] = sum over c with indices[..., c] == j of values[..., c]`,
    with a last axis of `size`; other entries are zero. Turns the router's
    top-k weights into a dense `[tokens, experts]` matrix.
  }];
  let arguments = (ins Dg_FloatTensor:$values, Dg_I32Tensor:$indices,
                       I64Attr:$size);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = [{
    $values `,` $indices attr-dict `:` type($values) `,` type($indices) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Dg_MaskOp : Dg_Op<"mask", [Pure, AttrSizedOperandSegments]> {
  let summary = "Additive attention mask from query and key positions";
  let description = [{
    Builds `[B, T, S]` with `0` where query `t` may see key `s` of batch row
    `b` and `-inf` elsewhere, from `query_positions` `[B, T]` and
    `key_positions` `[B, S]` (a negative key position marks padding, never
    visible). With `window = W > 0` a key must also lie within `W - 1`
    positions of the reference:

    * `causal` (encoder): `k <= q`, and `q - k < W`.
    * `canvas` (decoder): canvas keys (`k >= L`, where `L` is
      `committed_lengths[b]`) are all visible; committed keys (`k < L`) are
      visible when `k >= L - (W - 1)`, whatever the query: the reference
      decoder mask.
    * `bidirectional` (vision): every valid key.

    A causal mask may take `spans` `[B, T, 2]`: query `t` also sees every key
    `k` with `spans[b, t, 0] <= k <= spans[b, t, 1]`, window or not. An
    image's tokens carry the first and last position of their image, so
    they see each other in both directions; other tokens carry an empty
    span such as `[0, -1]`.
  }];
  let arguments = (ins Dg_I32Tensor:$query_positions, Dg_I32Tensor:$key_positions,
                       Optional<Dg_I32Tensor>:$committed_lengths,
                       Optional<Dg_I32Tensor>:$spans,
                       Dg_MaskKindAttr:$kind,
                       DefaultValuedAttr<I64Attr, "0">:$window);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = [{
    $query_positions `,` $key_positions (`,` $committed_lengths^)?
    (`spans` $spans^)? attr-dict `:`
    type($query_positions) `,` type($key_positions) (`,` type($committed_lengths)^)?
    (`spans` type($spans)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Dg_IotaOp : Dg_Op<"iota", [Pure]> {
  let summary = "0, 1, ..., N-1";
  let description = "A static rank-1 i32 tensor counting from 0.";
  let results = (outs Dg_I32Tensor:$result);
  let assemblyFormat = "attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Dg_PatchPoolOp : Dg_Op<"patch_pool", [Pure]> {
  let summary = "Average pooling of image patches by their 2-D positions";
  let description = [{
    `input` is `[N, P, D]` patch features and `positions` `[N, P, 2]` their
    (x, y) patch coordinates, `-1` for padding. Patch `(x, y)` of an image
    whose valid patches are `W` wide belongs to output
    `(x / kernel) + (W / kernel) * (y / kernel)`; each output row is the sum
    of its patches divided by `kernel * kernel`. Padding patches contribute
    nothing and rows with no patch are zero. The result is
    `[N, output_length, D]`.
  }];
  let arguments = (ins Dg_FloatTensor:$input, Dg_I32Tensor:$positions,
                       I64Attr:$kernel, I64Attr:$output_length);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $positions attr-dict `:` type($input) `,` type($positions) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

def Dg_ReshapeOp : Dg_Op<"reshape", [Pure]> {
  let summary = "Reinterpret the shape, keeping the dynamic dimensions";
  let description = [{
    Same elements, new shape. The dynamic dimensions of the operand carry
    over, in order, to the dynamic dimensions of the result, so both must
    have the same number of them, and the products of the static dimensions
    must agree. `[?, 256, 4096] -> [?, 256, 16, 256]` is valid;
    `[?, 256, 16] -> [?]` (two dynamic dimensions would merge) is not.
  }];
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Dg_TransposeOp : Dg_Op<"transpose", [Pure]> {
  let summary = "Permute dimensions";
  let description = "`result` dimension `i` is `input` dimension `permutation[i]`.";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input $permutation attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Dg_SliceOp : Dg_Op<"slice", [Pure]> {
  let summary = "A static range of one axis";
  let description = "Elements `[start, start + size)` of `axis`.";
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis, I64Attr:$start,
                       I64Attr:$size);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Dg_RepeatInterleaveOp : Dg_Op<"repeat_interleave", [Pure]> {
  let summary = "Repeat each slice of an axis consecutively";
  let description = [{
    Each index `i` of `axis` becomes indices `i * repeats .. i * repeats +
    repeats - 1`: the grouped-query broadcast of K/V heads to query heads.
  }];
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis, I64Attr:$repeats);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Dg_CastOp : Dg_Op<"cast", [Pure, SameOperandsAndResultShape]> {
  let summary = "Convert the element type";
  let description = [{
    Float to float rounds to nearest even; i1 and i32 to float give 0/1 and
    the integer's value.
  }];
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise arithmetic
//===----------------------------------------------------------------------===//

class Dg_BinaryOp<string mnemonic, string expr>
    : Dg_Op<mnemonic, [Pure]> {
  let summary = "Elementwise " # expr # " with NumPy broadcasting";
  let description = [{
    Shapes align from the right; a dimension of size 1 stretches. Operands
    and result share the element type.
  }];
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Dg_AddOp : Dg_BinaryOp<"add", "lhs + rhs">;
def Dg_SubOp : Dg_BinaryOp<"sub", "lhs - rhs">;
def Dg_MulOp : Dg_BinaryOp<"mul", "lhs * rhs">;
def Dg_DivOp : Dg_BinaryOp<"div", "lhs / rhs">;

class Dg_UnaryOp<string mnemonic, string expr>
    : Dg_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
  let summary = "Elementwise " # expr;
  let description = "Computed in f32 and rounded to the element type.";
  let arguments = (ins Dg_FloatTensor:$input);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Dg_ExpOp : Dg_UnaryOp<"exp", "exp(x)">;
def Dg_LogOp : Dg_UnaryOp<"log", "log(x)">;
def Dg_TanhOp : Dg_UnaryOp<"tanh", "tanh(x)">;

//===----------------------------------------------------------------------===//
// Fused ops
//===----------------------------------------------------------------------===//

def Dg_MoEOp : Dg_Op<"moe", [Pure]> {
  let summary = "A mixture-of-experts block: router, experts, weighted combine";
  let description = [{
    Replaces the router and the experts of one layer (made by
    `--dg-fuse-moe`). For each token `n` (every position of the leading
    dimensions):

    * Router, on `router_input` (the raw residual):
      `z = noscale_rms_norm(router_input[n]) * router_scale * hidden^-0.5`,
      `p = softmax(z @ router_proj^T)` in f32 over the experts; the `top_k`
      largest `p` (ties to the lower expert) are renormalised to sum to one
      and multiplied by `per_expert_scale[e]`, giving weights `w[n, j]` for
      experts `e[n, j]`.
    * Experts, on `expert_input` (the normalised residual):
      `y = sum_j w[n, j] * down[e] (gelu_tanh(gate[e] x) * up[e] x)` where
      `gate[e]` and `up[e]` are the first and second halves of the rows of
      `gate_up[e]`, accumulated in f32 and rounded once to the result type.

    Only the selected experts are evaluated. Grouped by expert, the work is
    one skinny GEMM per expert over the tokens routed to it, which is the
    form a grouped GEMM kernel takes: token counts per expert, offsets, and
    the permutation of (token, slot) pairs.
  }];
  let arguments = (ins Dg_FloatTensor:$router_input, Dg_FloatTensor:$expert_input,
                       Dg_FloatTensor:$router_scale, Dg_FloatTensor:$router_proj,
                       Dg_FloatTensor:$per_expert_scale,
                       Dg_FloatTensor:$gate_up, Dg_FloatTensor:$down,
                       I64Attr:$top_k, F64Attr:$epsilon);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = [{
    $router_input `,` $expert_input `,` $router_scale `,` $router_proj `,`
    $per_expert_scale `,` $gate_up `,` $down attr-dict `:`
    type($router_input) `,` type($expert_input) `,` type($router_scale) `,`
    type($router_proj) `,` type($per_expert_scale) `,` type($gate_up) `,`
    type($down) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Dg_SampleOp : Dg_Op<"sample", [Pure]> {
  let summary = "LM head, softcap, temperature and the sampling statistics";
  let description = [{
    The decoder step's head (made by `--dg-fuse-sampling`). For each
    position, in f32: `l = hidden @ embedding^T`, softcapped
    `tanh(l / softcap) * softcap` when `softcap > 0`, and
    `x = l / temperature[b]`. Returns `x` in the result's element type (the
    next step's self-conditioning input), `argmax(x)`, the `top_k` largest
    probabilities of `softmax(x)` with their token ids (ties to the lower
    id), and the entropy `logsumexp(x) - sum(softmax(x) * x)`.

    Contract: besides its results, an implementation needs only per-row
    state (running max, sum of exponentials, sum of `p * x`, a top-k list);
    no `[positions x vocabulary]` f32 temporary is part of the op.
  }];
  let arguments = (ins Dg_FloatTensor:$hidden, Dg_FloatTensor:$embedding,
                       Dg_FloatTensor:$temperature, F64Attr:$softcap,
                       I64Attr:$top_k);
  let results = (outs Dg_FloatTensor:$logits, Dg_I32Tensor:$argmax,
                      Dg_FloatTensor:$topk_probs, Dg_I32Tensor:$topk_ids,
                      Dg_FloatTensor:$entropy);
  let assemblyFormat = [{
    $hidden `,` $embedding `,` $temperature attr-dict `:` type($hidden) `,`
    type($embedding) `,` type($temperature) `->` type($logits) `,`
    type($argmax) `,` type($topk_probs) `,` type($topk_ids) `,` type($entropy)
  }];
  let hasVerifier = 1;
}

def Dg_SoftEmbeddingOp : Dg_Op<"soft_embedding", [Pure]> {
  let summary = "softmax(x) @ E * scale: the self-conditioning embedding";
  let description = [{
    The self-conditioning input of a denoise step (made by
    `--dg-fuse-sampling`): `(softmax(logits) in f32, rounded to the table's
    element type) @ embedding * scale`, with the softmax over the last axis
    (the vocabulary). An implementation needs per-row max and sum, not the
    `[positions x vocabulary]` probabilities.
  }];
  let arguments = (ins Dg_FloatTensor:$logits, Dg_FloatTensor:$embedding,
                       F64Attr:$scale);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $embedding attr-dict `:` type($logits) `,` type($embedding)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

def Dg_AttentionOp : Dg_Op<"attention",
    [AttrSizedOperandSegments,
     MemoryEffects<[MemRead<Dg_KVCacheResource>, MemWrite<Dg_KVCacheResource>]>]> {
  let summary = "Projection epilogue, cache write and read, and attention";
  let description = [{
    One layer's attention after the q/k/v projections (made by
    `--dg-fuse-attention`). With `q`, `k`, `v` the raw projections
    `[B, T, heads, head_dim]`:

    * `q' = rope(rms_norm(q, q_norm))`, `k' = rope(rms_norm(k, k_norm))`,
      `v' = rms_norm(v)` (no weight), RoPE of `rope_kind` at `positions`;
    * `k'`, `v'` are written to layer `layer` of `cache` at `positions`
      (canvas scratch when `scratch`), and the request's keys are read back:
      `[0, max(positions) + 1)` for a `causal` mask, `[0, L + T)` for a
      `canvas` mask (`L` the committed lengths);
    * `out = softmax(q' K^T * scale + mask) V`, each group of query heads
      sharing one K/V head, with the mask of `mask` and `window` (see
      `dg.mask`), in f32 and rounded to the element type.

    Without a cache (the vision tower), K and V are `k'` and `v'` themselves
    and the mask is `bidirectional` over the valid keys: `key_positions`
    (`[B, T]`, negative for padding) says which. A causal mask may carry
    `spans` (`[B, T, 2]`), the keys each query also sees (see `dg.mask`).

    The result is `[B, T, heads, head_dim]`, before the output projection.
  }];
  let arguments = (ins Dg_FloatTensor:$q, Dg_FloatTensor:$k, Dg_FloatTensor:$v,
                       Dg_FloatTensor:$q_norm, Dg_FloatTensor:$k_norm,
                       Dg_I32Tensor:$positions, Optional<Dg_KVCacheType>:$cache,
                       Optional<Dg_I32Tensor>:$committed_lengths,
                       Optional<Dg_I32Tensor>:$key_positions,
                       Optional<Dg_I32Tensor>:$spans,
                       DefaultValuedAttr<I64Attr, "0">:$layer,
                       Dg_MaskKindAttr:$mask,
                       DefaultValuedAttr<I64Attr, "0">:$window, F64Attr:$scale,
                       Dg_RopeKindAttr:$rope, F64Attr:$theta,
                       DefaultValuedAttr<F64Attr, "1.0">:$partial_rotary_factor,
                       F64Attr:$epsilon, UnitAttr:$scratch);
  let results = (outs Dg_FloatTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $q_norm `,` $k_norm `,` $positions
    (`cache` $cache^ `[` $layer `]`)? (`committed` $committed_lengths^)?
    (`keys` $key_positions^)? (`spans` $spans^)? attr-dict `:`
    type($q) `,` type($k) `,` type($v) `,` type($q_norm) `,` type($k_norm) `,`
    type($positions) (`cache` qualified(type($cache))^)?
    (`committed` type($committed_lengths)^)? (`keys` type($key_positions)^)?
    (`spans` type($spans)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Dg_MaskedAttentionOp : Dg_Op<"masked_attention",
    [DeclareOpInterfaceMethods<BufferizableOpInterface,
        ["bufferizesToMemoryRead", "bufferizesToMemoryWrite",
         "getAliasingValues", "bufferize"]>,
     DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "softmax(q K^T * scale + mask) V over grouped K/V heads";
  let description = [{
    The core of `dg.attention` once the queries are normed and rotated and
    the keys read from the cache, kept whole for targets that compute it in
    one kernel (the CUDA target's flash attention). With `q`
    `[B, T, heads, D]`, `keys` and `values` `[B, S, kv_heads, D]` and the
    additive `mask` `[B, T, S]` (see `dg.mask`), query head `h` reads K/V
    head `h / (heads / kv_heads)` and

        out[b, t, h] = softmax_s(q[b, t, h] . keys[b, s] * scale
                                 + mask[b, t, s]) values[b, s]

    with the products accumulated in f32 and the scores, scaled scores and
    masked scores each rounded to the element type, the softmax in f32 and
    its probabilities rounded to the element type before the second
    product (what `convert-dg-to-linalg` emits when it expands the op). A
    flash kernel computes the same sum one tile of keys at a time with a
    running maximum, so it rounds the probabilities before normalising
    them: the results agree to the element type's precision, not bitwise.

    Paged form: with `rows` (`[B, S, 2]`, i64), `keys` and `values` are
    pools of rows `[N, kv_heads, D]` (a KV cache's pool) and key `s` of
    request `b` is `keys[rows[b, s, 0]]`, its value `values[rows[b, s, 1]]`;
    a negative row stands for a zero row. `convert-dg-to-runtime-abi`
    makes this form from a `dg.kv_cache_read` whose rows only attention
    reads, so that a kernel reads the cache's pages where they lie instead
    of a gathered copy. `convert-dg-to-linalg` does not expand it.

    Destination-passing: on tensors the result takes `init`'s type; after
    bufferization the op writes into `init`, a memref, and has no result.
  }];
  let arguments = (ins AnyShaped:$q, AnyShaped:$keys, AnyShaped:$values,
                       AnyShaped:$mask, Optional<AnyShaped>:$rows,
                       AnyShaped:$init, F64Attr:$scale);
  let results = (outs Optional<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $q `,` $keys `,` $values `,` $mask (`rows` $rows^)? `into` $init attr-dict
    `:` type($q) `,` type($keys) `,` type($values) `,` type($mask)
    (`rows` type($rows)^)? `into` type($init) (`->` type($result)^)?
  }];
  let hasVerifier = 1;
}

#endif // DG_OPS_TD
