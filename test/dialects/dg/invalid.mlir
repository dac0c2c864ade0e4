// RUN: dgc-opt %s -split-input-file -verify-diagnostics
// One case per verifier diagnostic of the dg dialect.

// expected-error @+1 {{a sliding kv_cache needs a window > 0}}
func.func @sliding_cache_without_window(%c: !dg.kv_cache<sliding, layers = 2, kv_heads = 8, head_dim = 256, window = 0, bf16>)

// -----

// expected-error @+1 {{a full kv_cache has no window, got 1024}}
func.func @full_cache_with_window(%c: !dg.kv_cache<full, layers = 2, kv_heads = 2, head_dim = 512, window = 1024, bf16>)

// -----

// expected-error @+1 {{kv_cache needs at least one layer, got 0}}
func.func @empty_cache(%c: !dg.kv_cache<full, layers = 0, kv_heads = 2, head_dim = 512, window = 0, bf16>)

// -----

// expected-error @+1 {{kv_cache element type must be a float type, got 'i32'}}
func.func @int_cache(%c: !dg.kv_cache<full, layers = 1, kv_heads = 2, head_dim = 512, window = 0, i32>)

// -----

func.func @empty_weight_name() {
  // expected-error @+1 {{needs a non-empty checkpoint tensor name}}
  %w = dg.weight "" : tensor<4xbf16>
  return
}

// -----

func.func @weight_name_with_space() {
  // expected-error @+1 {{checkpoint tensor name 'a b' contains whitespace}}
  %w = dg.weight "a b" : tensor<4xbf16>
  return
}

// -----

func.func @dynamic_weight() {
  // expected-error @+1 {{must be statically shaped tensor of any type values}}
  %w = dg.weight "w" : tensor<?xbf16>
  return
}

// -----

!full = !dg.kv_cache<full, layers = 5, kv_heads = 2, head_dim = 512, window = 0, bf16>
func.func @write_layer_out_of_range(%c: !full, %k: tensor<?x?x2x512xbf16>, %p: tensor<?x?xi32>) {
  // expected-error @+1 {{layer 5 is out of range for a cache pool of 5 layers}}
  dg.kv_cache_write %c[5], %k, %k, %p : !full, tensor<?x?x2x512xbf16>, tensor<?x?x2x512xbf16>, tensor<?x?xi32>
  return
}

// -----

!full = !dg.kv_cache<full, layers = 5, kv_heads = 2, head_dim = 512, window = 0, bf16>
func.func @write_wrong_heads(%c: !full, %k: tensor<?x?x8x256xbf16>, %p: tensor<?x?xi32>) {
  // expected-error @+1 {{key rows must be [2 x 512] to match the cache, got [?x?x8x256]}}
  dg.kv_cache_write %c[0], %k, %k, %p : !full, tensor<?x?x8x256xbf16>, tensor<?x?x8x256xbf16>, tensor<?x?xi32>
  return
}

// -----

!full = !dg.kv_cache<full, layers = 5, kv_heads = 2, head_dim = 512, window = 0, bf16>
func.func @write_wrong_element_type(%c: !full, %k: tensor<?x?x2x512xf32>, %p: tensor<?x?xi32>) {
  // expected-error @+1 {{key element type 'f32' differs from the cache's 'bf16'}}
  dg.kv_cache_write %c[0], %k, %k, %p : !full, tensor<?x?x2x512xf32>, tensor<?x?x2x512xf32>, tensor<?x?xi32>
  return
}

// -----

!full = !dg.kv_cache<full, layers = 5, kv_heads = 2, head_dim = 512, window = 0, bf16>
func.func @write_positions_mismatch(%c: !full, %k: tensor<?x16x2x512xbf16>, %p: tensor<?x8xi32>) {
  // expected-error @+1 {{positions must have shape [?x16], got [?x8]}}
  dg.kv_cache_write %c[0], %k, %k, %p : !full, tensor<?x16x2x512xbf16>, tensor<?x16x2x512xbf16>, tensor<?x8xi32>
  return
}

// -----

!full = !dg.kv_cache<full, layers = 5, kv_heads = 2, head_dim = 512, window = 0, bf16>
func.func @read_batch_mismatch(%c: !full, %len: tensor<4xi32>) {
  // expected-error @+1 {{keys hold 2 requests but lengths has 4}}
  %k, %v, %p = dg.kv_cache_read %c[0], %len : !full, tensor<4xi32> -> tensor<2x?x2x512xbf16>, tensor<2x?x2x512xbf16>, tensor<2x?xi32>
  return
}

// -----

!full = !dg.kv_cache<full, layers = 5, kv_heads = 2, head_dim = 512, window = 0, bf16>
func.func @read_positions_mismatch(%c: !full, %len: tensor<?xi32>) {
  // expected-error @+1 {{positions must have shape [?x?], got [?]}}
  %k, %v, %p = dg.kv_cache_read %c[0], %len : !full, tensor<?xi32> -> tensor<?x?x2x512xbf16>, tensor<?x?x2x512xbf16>, tensor<?xi32>
  return
}

// -----

func.func @matmul_contracting(%a: tensor<?x2816xbf16>, %b: tensor<4096x2048xbf16>) {
  // expected-error @+1 {{contracting dimensions differ: lhs has 2816, rhs has 2048}}
  %y = dg.matmul %a, %b {transpose_rhs} : tensor<?x2816xbf16>, tensor<4096x2048xbf16> -> tensor<?x4096xbf16>
  return
}

// -----

func.func @matmul_rank(%a: tensor<2816xbf16>, %b: tensor<4096x2816xbf16>) {
  // expected-error @+1 {{operands must have rank >= 2, got [2816] and [4096x2816]}}
  %y = dg.matmul %a, %b {transpose_rhs} : tensor<2816xbf16>, tensor<4096x2816xbf16> -> tensor<4096xbf16>
  return
}

// -----

func.func @matmul_batch(%a: tensor<3x8x16xf32>, %b: tensor<4x16x8xf32>) {
  // expected-error @+1 {{batch dimensions [3] and [4] do not broadcast}}
  %y = dg.matmul %a, %b : tensor<3x8x16xf32>, tensor<4x16x8xf32> -> tensor<3x8x8xf32>
  return
}

// -----

func.func @matmul_element_types(%a: tensor<8x16xf32>, %b: tensor<16x8xbf16>) {
  // expected-error @+1 {{lhs and rhs must share an element type, got 'f32' and 'bf16'}}
  %y = dg.matmul %a, %b : tensor<8x16xf32>, tensor<16x8xbf16> -> tensor<8x8xf32>
  return
}

// -----

func.func @matmul_result(%a: tensor<8x16xf32>, %b: tensor<16x4xf32>) {
  // expected-error @+1 {{result must have shape [8x4], got [8x8]}}
  %y = dg.matmul %a, %b : tensor<8x16xf32>, tensor<16x4xf32> -> tensor<8x8xf32>
  return
}

// -----

func.func @rms_norm_weight(%x: tensor<?x2816xbf16>, %w: tensor<2048xbf16>) {
  // expected-error @+1 {{weight must have shape [2816], got [2048]}}
  %y = dg.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : tensor<?x2816xbf16>, tensor<2048xbf16>
  return
}

// -----

func.func @rms_norm_epsilon(%x: tensor<?x2816xbf16>) {
  // expected-error @+1 {{epsilon must be >= 0}}
  %y = dg.rms_norm %x {epsilon = -1.0 : f64} : tensor<?x2816xbf16>
  return
}

// -----

func.func @rope_odd_head_dim(%x: tensor<?x?x16x255xbf16>, %p: tensor<?x?xi32>) {
  // expected-error @+1 {{head_dim must be static and even, got 255}}
  %y = dg.rope %x, %p {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x?x16x255xbf16>, tensor<?x?xi32>
  return
}

// -----

func.func @rope_partial_pairs(%x: tensor<?x?x16x512xbf16>, %p: tensor<?x?xi32>) {
  // expected-error @+1 {{partial_rotary_factor 3.000000e-01 does not select a whole number of the 256 frequency pairs}}
  %y = dg.rope %x, %p {kind = #dg<rope_kind proportional>, theta = 1.0e+06 : f64, partial_rotary_factor = 0.3 : f64} : tensor<?x?x16x512xbf16>, tensor<?x?xi32>
  return
}

// -----

func.func @rope_factor_range(%x: tensor<?x?x16x512xbf16>, %p: tensor<?x?xi32>) {
  // expected-error @+1 {{partial_rotary_factor must lie in (0, 1], got 1.5}}
  %y = dg.rope %x, %p {kind = #dg<rope_kind proportional>, theta = 1.0e+06 : f64, partial_rotary_factor = 1.5 : f64} : tensor<?x?x16x512xbf16>, tensor<?x?xi32>
  return
}

// -----

func.func @rope_factor_on_default(%x: tensor<?x?x16x512xbf16>, %p: tensor<?x?xi32>) {
  // expected-error @+1 {{partial_rotary_factor applies only to proportional rope}}
  %y = dg.rope %x, %p {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64, partial_rotary_factor = 0.5 : f64} : tensor<?x?x16x512xbf16>, tensor<?x?xi32>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x?x16x256xbf16>, %p: tensor<?x?xi32>) {
  // expected-error @+1 {{theta must be positive}}
  %y = dg.rope %x, %p {kind = #dg<rope_kind default>, theta = 0.0 : f64} : tensor<?x?x16x256xbf16>, tensor<?x?xi32>
  return
}

// -----

func.func @rope_2d_positions(%x: tensor<?x?x16x72xbf16>, %p: tensor<?x?xi32>) {
  // expected-error @+1 {{positions must have shape [?x?x2], got [?x?]}}
  %y = dg.rope %x, %p {kind = #dg<rope_kind two_d>, theta = 1.0e+02 : f64} : tensor<?x?x16x72xbf16>, tensor<?x?xi32>
  return
}

// -----

func.func @rope_2d_head_dim(%x: tensor<?x?x16x70xbf16>, %p: tensor<?x?x2xi32>) {
  // expected-error @+1 {{two_d rope needs head_dim divisible by 4, got 70}}
  %y = dg.rope %x, %p {kind = #dg<rope_kind two_d>, theta = 1.0e+02 : f64} : tensor<?x?x16x70xbf16>, tensor<?x?x2xi32>
  return
}

// -----

func.func @rope_rank(%x: tensor<?x4096xbf16>, %p: tensor<?x?xi32>) {
  // expected-error @+1 {{input must have rank 4, got [?x4096]}}
  %y = dg.rope %x, %p {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x4096xbf16>, tensor<?x?xi32>
  return
}

// -----

func.func @softmax_axis(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %y = dg.softmax %x {axis = 2 : i64} : tensor<?x64xf32>
  return
}

// -----

func.func @reduce_result(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{result must have shape [64], got [32]}}
  %y = dg.reduce <sum> %x {axis = 0 : i64} : tensor<?x64xf32> -> tensor<32xf32>
  return
}

// -----

func.func @reduce_int_sum(%x: tensor<?x64xi32>) {
  // expected-error @+1 {{sum needs a float input, got 'i32'}}
  %y = dg.reduce <sum> %x {axis = 1 : i64} : tensor<?x64xi32> -> tensor<?xi32>
  return
}

// -----

func.func @top_k_too_many(%x: tensor<?x32xf32>) {
  // expected-error @+1 {{k must lie in [1, 32], got 64}}
  %v, %i = dg.top_k %x {k = 64 : i64} : tensor<?x32xf32> -> tensor<?x64xf32>, tensor<?x64xi32>
  return
}

// -----

func.func @top_k_indices(%x: tensor<?x512xf32>) {
  // expected-error @+1 {{indices must have shape [?x64], got [?x32]}}
  %v, %i = dg.top_k %x {k = 64 : i64} : tensor<?x512xf32> -> tensor<?x64xf32>, tensor<?x32xi32>
  return
}

// -----

func.func @argmax_shape(%x: tensor<?x16x512xf32>) {
  // expected-error @+1 {{result must have shape [?x16], got [?x512]}}
  %a = dg.argmax %x : tensor<?x16x512xf32> -> tensor<?x512xi32>
  return
}

// -----

func.func @categorical_sample_seeds(%x: tensor<?x16x512xf32>, %s: tensor<?x8xi32>) {
  // expected-error @+1 {{seeds must have shape [?x16], got [?x8]}}
  %a = dg.categorical_sample %x, %s : tensor<?x16x512xf32>, tensor<?x8xi32> -> tensor<?x16xi32>
  return
}

// -----

func.func @categorical_sample_result(%x: tensor<?x16x512xf32>, %s: tensor<?x16xi32>) {
  // expected-error @+1 {{result must have shape [?x16], got [?x512]}}
  %a = dg.categorical_sample %x, %s : tensor<?x16x512xf32>, tensor<?x16xi32> -> tensor<?x512xi32>
  return
}

// -----

func.func @gather_shape(%e: tensor<512x64xf32>, %ids: tensor<?x16xi32>) {
  // expected-error @+1 {{result must have shape [?x16x64], got [?x64]}}
  %x = dg.gather %e[%ids] : tensor<512x64xf32>, tensor<?x16xi32> -> tensor<?x64xf32>
  return
}

// -----

func.func @scatter_size(%v: tensor<?x2xf32>, %i: tensor<?x2xi32>) {
  // expected-error @+1 {{result must have shape [?x8], got [?x4]}}
  %d = dg.scatter %v, %i {size = 8 : i64} : tensor<?x2xf32>, tensor<?x2xi32> -> tensor<?x4xf32>
  return
}

// -----

func.func @scatter_indices(%v: tensor<?x2xf32>, %i: tensor<?x3xi32>) {
  // expected-error @+1 {{indices must have shape [?x2], got [?x3]}}
  %d = dg.scatter %v, %i {size = 8 : i64} : tensor<?x2xf32>, tensor<?x3xi32> -> tensor<?x8xf32>
  return
}

// -----

func.func @canvas_mask_needs_lengths(%q: tensor<?x16xi32>, %k: tensor<?x?xi32>) {
  // expected-error @+1 {{committed_lengths is required by a canvas mask}}
  %m = dg.mask %q, %k {kind = #dg<mask_kind canvas>} : tensor<?x16xi32>, tensor<?x?xi32> -> tensor<?x16x?xf32>
  return
}

// -----

func.func @causal_mask_with_lengths(%q: tensor<?x16xi32>, %k: tensor<?x?xi32>, %l: tensor<?xi32>) {
  // expected-error @+1 {{committed_lengths is meaningless for a causal mask}}
  %m = dg.mask %q, %k, %l {kind = #dg<mask_kind causal>} : tensor<?x16xi32>, tensor<?x?xi32>, tensor<?xi32> -> tensor<?x16x?xf32>
  return
}

// -----

func.func @canvas_mask_with_spans(%q: tensor<?x16xi32>, %k: tensor<?x?xi32>, %l: tensor<?xi32>, %s: tensor<?x16x2xi32>) {
  // expected-error @+1 {{spans are meaningless for a canvas mask}}
  %m = dg.mask %q, %k, %l spans %s {kind = #dg<mask_kind canvas>} : tensor<?x16xi32>, tensor<?x?xi32>, tensor<?xi32> spans tensor<?x16x2xi32> -> tensor<?x16x?xf32>
  return
}

// -----

func.func @mask_spans_shape(%q: tensor<?x16xi32>, %k: tensor<?x?xi32>, %s: tensor<?x16x3xi32>) {
  // expected-error @+1 {{spans}}
  %m = dg.mask %q, %k spans %s {kind = #dg<mask_kind causal>} : tensor<?x16xi32>, tensor<?x?xi32> spans tensor<?x16x3xi32> -> tensor<?x16x?xf32>
  return
}

// -----

func.func @bidirectional_window(%q: tensor<?x16xi32>, %k: tensor<?x?xi32>) {
  // expected-error @+1 {{a bidirectional mask has no window}}
  %m = dg.mask %q, %k {kind = #dg<mask_kind bidirectional>, window = 4 : i64} : tensor<?x16xi32>, tensor<?x?xi32> -> tensor<?x16x?xf32>
  return
}

// -----

func.func @mask_result(%q: tensor<?x16xi32>, %k: tensor<?x32xi32>) {
  // expected-error @+1 {{result must have shape [?x16x32], got [?x16x16]}}
  %m = dg.mask %q, %k {kind = #dg<mask_kind causal>} : tensor<?x16xi32>, tensor<?x32xi32> -> tensor<?x16x16xf32>
  return
}

// -----

func.func @mask_batch(%q: tensor<2x16xi32>, %k: tensor<3x32xi32>) {
  // expected-error @+1 {{query and key positions have different batch sizes: 2 and 3}}
  %m = dg.mask %q, %k {kind = #dg<mask_kind causal>} : tensor<2x16xi32>, tensor<3x32xi32> -> tensor<2x16x32xf32>
  return
}

// -----

func.func @mask_window(%q: tensor<?x16xi32>, %k: tensor<?x?xi32>) {
  // expected-error @+1 {{window must be >= 0, got -1}}
  %m = dg.mask %q, %k {kind = #dg<mask_kind causal>, window = -1 : i64} : tensor<?x16xi32>, tensor<?x?xi32> -> tensor<?x16x?xf32>
  return
}

// -----

func.func @dynamic_iota() {
  // expected-error @+1 {{result must be a static rank-1 tensor, got [?]}}
  %i = dg.iota : tensor<?xi32>
  return
}

// -----

func.func @patch_pool_positions(%h: tensor<?x36x32xf32>, %p: tensor<?x36xi32>) {
  // expected-error @+1 {{positions must have shape [?x36x2], got [?x36]}}
  %y = dg.patch_pool %h, %p {kernel = 3 : i64, output_length = 4 : i64} : tensor<?x36x32xf32>, tensor<?x36xi32> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @patch_pool_kernel(%h: tensor<?x36x32xf32>, %p: tensor<?x36x2xi32>) {
  // expected-error @+1 {{kernel and output_length must be positive, got 0 and 4}}
  %y = dg.patch_pool %h, %p {kernel = 0 : i64, output_length = 4 : i64} : tensor<?x36x32xf32>, tensor<?x36x2xi32> -> tensor<?x4x32xf32>
  return
}

// -----

func.func @reshape_merges_dynamic(%x: tensor<?x256x16xbf16>) {
  // expected-error @+1 {{cannot reshape [?x256x16] to [?]: dynamic dimensions must carry over one to one and static sizes must multiply to the same count}}
  %y = dg.reshape %x : tensor<?x256x16xbf16> -> tensor<?xbf16>
  return
}

// -----

func.func @reshape_count(%x: tensor<?x256x16xbf16>) {
  // expected-error @+1 {{cannot reshape [?x256x16] to [?x256x8]}}
  %y = dg.reshape %x : tensor<?x256x16xbf16> -> tensor<?x256x8xbf16>
  return
}

// -----

func.func @transpose_permutation(%x: tensor<?x256x16xbf16>) {
  // expected-error @+1 {{permutation must be a permutation of 0..rank-1}}
  %y = dg.transpose %x [0, 1, 1] : tensor<?x256x16xbf16> -> tensor<?x256x256xbf16>
  return
}

// -----

func.func @transpose_result(%x: tensor<?x256x16xbf16>) {
  // expected-error @+1 {{result must have shape [?x16x256], got [?x256x16]}}
  %y = dg.transpose %x [0, 2, 1] : tensor<?x256x16xbf16> -> tensor<?x256x16xbf16>
  return
}

// -----

func.func @slice_range(%x: tensor<?x16xbf16>) {
  // expected-error @+1 {{slice [8, 24) does not fit axis 1 of size 16}}
  %y = dg.slice %x {axis = 1 : i64, start = 8 : i64, size = 16 : i64} : tensor<?x16xbf16> -> tensor<?x16xbf16>
  return
}

// -----

func.func @repeat_count(%x: tensor<?x8x64xbf16>) {
  // expected-error @+1 {{repeats must be >= 1, got 0}}
  %y = dg.repeat_interleave %x {axis = 1 : i64, repeats = 0 : i64} : tensor<?x8x64xbf16> -> tensor<?x8x64xbf16>
  return
}

// -----

func.func @repeat_result(%x: tensor<?x8x64xbf16>) {
  // expected-error @+1 {{result must have shape [?x16x64], got [?x8x64]}}
  %y = dg.repeat_interleave %x {axis = 1 : i64, repeats = 2 : i64} : tensor<?x8x64xbf16> -> tensor<?x8x64xbf16>
  return
}

// -----

func.func @broadcast(%a: tensor<?x16xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{shapes [?x16] and [8] do not broadcast}}
  %y = dg.add %a, %b : tensor<?x16xf32>, tensor<8xf32> -> tensor<?x16xf32>
  return
}

// -----

func.func @binary_element_types(%a: tensor<16xf32>, %b: tensor<16xbf16>) {
  // expected-error @+1 {{operands must share an element type, got 'f32' and 'bf16'}}
  %y = dg.mul %a, %b : tensor<16xf32>, tensor<16xbf16> -> tensor<16xf32>
  return
}

// -----

func.func @cast_shape(%a: tensor<16xf32>) {
  // expected-error @+1 {{requires the same shape for all operands and results}}
  %y = dg.cast %a : tensor<16xf32> -> tensor<8xbf16>
  return
}

// -----

func.func @bad_top_k(%r: tensor<?x?x64xf32>, %scale: tensor<64xf32>, %proj: tensor<8x64xf32>, %pes: tensor<8xf32>, %gate_up: tensor<8x64x64xf32>, %down: tensor<8x64x32xf32>) -> tensor<?x?x64xf32> {
  // expected-error @+1 {{top_k must lie in [1, 8], got 9}}
  %m = dg.moe %r, %r, %scale, %proj, %pes, %gate_up, %down {epsilon = 1.0e-06 : f64, top_k = 9 : i64} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<8x64xf32>, tensor<8xf32>, tensor<8x64x64xf32>, tensor<8x64x32xf32> -> tensor<?x?x64xf32>
  return %m : tensor<?x?x64xf32>
}

// -----

func.func @moe_down_shape(%r: tensor<?x?x64xf32>, %scale: tensor<64xf32>, %proj: tensor<8x64xf32>, %pes: tensor<8xf32>, %gate_up: tensor<8x64x64xf32>, %down: tensor<8x64x16xf32>) -> tensor<?x?x64xf32> {
  // expected-error @+1 {{down must have shape [8x64x32], got [8x64x16]}}
  %m = dg.moe %r, %r, %scale, %proj, %pes, %gate_up, %down {epsilon = 1.0e-06 : f64, top_k = 2 : i64} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<8x64xf32>, tensor<8xf32>, tensor<8x64x64xf32>, tensor<8x64x16xf32> -> tensor<?x?x64xf32>
  return %m : tensor<?x?x64xf32>
}

// -----

func.func @sample_width(%h: tensor<?x16x32xf32>, %e: tensor<512x64xf32>, %t: tensor<?xf32>) {
  // expected-error @+1 {{hidden width 32 differs from the embedding's 64}}
  %l, %a, %p, %i, %n = dg.sample %h, %e, %t {softcap = 3.0e+01 : f64, top_k = 64 : i64} : tensor<?x16x32xf32>, tensor<512x64xf32>, tensor<?xf32> -> tensor<?x16x512xf32>, tensor<?x16xi32>, tensor<?x16x64xf32>, tensor<?x16x64xi32>, tensor<?x16xf32>
  return
}

// -----

func.func @sample_top_k(%h: tensor<?x16x64xf32>, %e: tensor<512x64xf32>, %t: tensor<?xf32>) {
  // expected-error @+1 {{top_k must lie in [1, 512], got 600}}
  %l, %a, %p, %i, %n = dg.sample %h, %e, %t {softcap = 3.0e+01 : f64, top_k = 600 : i64} : tensor<?x16x64xf32>, tensor<512x64xf32>, tensor<?xf32> -> tensor<?x16x512xf32>, tensor<?x16xi32>, tensor<?x16x600xf32>, tensor<?x16x600xi32>, tensor<?x16xf32>
  return
}

// -----

func.func @attention_spans_not_causal(%q: tensor<?x16x4x8xf32>, %n: tensor<8xf32>, %pos: tensor<?x16x2xi32>, %kp: tensor<?x16xi32>, %s: tensor<?x16x2xi32>) {
  // expected-error @+1 {{spans go with a causal mask only}}
  %a = dg.attention %q, %q, %q, %n, %n, %pos keys %kp spans %s {epsilon = 1.0e-6 : f64, mask = #dg<mask_kind bidirectional>, rope = #dg<rope_kind two_d>, scale = 1.0 : f64, theta = 100.0 : f64} : tensor<?x16x4x8xf32>, tensor<?x16x4x8xf32>, tensor<?x16x4x8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<?x16x2xi32> keys tensor<?x16xi32> spans tensor<?x16x2xi32> -> tensor<?x16x4x8xf32>
  return
}

// -----

func.func @masked_attention_mixed(%q: tensor<?x16x4x32xbf16>, %k: memref<?x?x2x32xbf16>, %m: tensor<?x16x?xbf16>) {
  // expected-error @+1 {{operands are all ranked tensors or all memrefs}}
  %a = dg.masked_attention %q, %k, %k, %m into %q {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, memref<?x?x2x32xbf16>, memref<?x?x2x32xbf16>, tensor<?x16x?xbf16> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return
}

// -----

func.func @masked_attention_no_result(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x?x2x32xbf16>, %m: tensor<?x16x?xbf16>) {
  // expected-error @+1 {{on tensors the op has a result}}
  dg.masked_attention %q, %k, %k, %m into %q {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x16x?xbf16> into tensor<?x16x4x32xbf16>
  return
}

// -----

func.func @masked_attention_mask(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x?x2x32xbf16>, %m: tensor<?x8x?xbf16>) {
  // expected-error @+1 {{mask}}
  %a = dg.masked_attention %q, %k, %k, %m into %q {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x8x?xbf16> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return
}

// -----

func.func @masked_attention_groups(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x?x3x32xbf16>, %m: tensor<?x16x?xbf16>) {
  // expected-error @+1 {{queries [?x16x4x32] do not group over the keys [?x?x3x32]}}
  %a = dg.masked_attention %q, %k, %k, %m into %q {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x?x3x32xbf16>, tensor<?x?x3x32xbf16>, tensor<?x16x?xbf16> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return
}

// -----

func.func @masked_attention_paged_rank(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x?x2x32xbf16>, %r: tensor<?x?x2xi64>, %m: tensor<?x16x?xbf16>) {
  // expected-error @+1 {{keys must have rank 3, got [?x?x2x32]}}
  %a = dg.masked_attention %q, %k, %k, %m rows %r into %q {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x?x2x32xbf16>, tensor<?x16x?xbf16> rows tensor<?x?x2xi64> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return
}

// -----

func.func @masked_attention_paged_rows(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x2x32xbf16>, %r: tensor<?x?xi64>, %m: tensor<?x16x?xbf16>) {
  // expected-error @+1 {{rows must have shape [?x?x2], got [?x?]}}
  %a = dg.masked_attention %q, %k, %k, %m rows %r into %q {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x2x32xbf16>, tensor<?x2x32xbf16>, tensor<?x16x?xbf16> rows tensor<?x?xi64> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return
}

// -----

func.func @masked_attention_paged_row_type(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x2x32xbf16>, %r: tensor<?x?x2xi32>, %m: tensor<?x16x?xbf16>) {
  // expected-error @+1 {{rows must hold i64 pool rows}}
  %a = dg.masked_attention %q, %k, %k, %m rows %r into %q {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x2x32xbf16>, tensor<?x2x32xbf16>, tensor<?x16x?xbf16> rows tensor<?x?x2xi32> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return
}

// -----

func.func @masked_attention_paged_mask(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x2x32xbf16>, %r: tensor<?x64x2xi64>, %m: tensor<?x16x32xbf16>) {
  // expected-error @+1 {{mask must have shape [?x16x64], got [?x16x32]}}
  %a = dg.masked_attention %q, %k, %k, %m rows %r into %q {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x2x32xbf16>, tensor<?x2x32xbf16>, tensor<?x16x32xbf16> rows tensor<?x64x2xi64> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return
}

// -----

func.func @masked_attention_paged_mixed(%q: tensor<?x16x4x32xbf16>, %k: tensor<?x2x32xbf16>, %r: memref<?x?x2xi64>, %m: tensor<?x16x?xbf16>) {
  // expected-error @+1 {{operands are all ranked tensors or all memrefs}}
  %a = dg.masked_attention %q, %k, %k, %m rows %r into %q {scale = 1.0 : f64} : tensor<?x16x4x32xbf16>, tensor<?x2x32xbf16>, tensor<?x2x32xbf16>, tensor<?x16x?xbf16> rows memref<?x?x2xi64> into tensor<?x16x4x32xbf16> -> tensor<?x16x4x32xbf16>
  return
}
