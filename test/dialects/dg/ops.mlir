// RUN: dgc-opt %s | FileCheck %s
// RUN: dgc-opt %s | dgc-opt | FileCheck %s
// RUN: dgc-opt %s --mlir-print-op-generic | dgc-opt | FileCheck %s
// Every dg op and type, printed and parsed back.

!sliding = !dg.kv_cache<sliding, layers = 25, kv_heads = 8, head_dim = 256, window = 1024, bf16>

// CHECK-LABEL: func.func @cache
// CHECK-SAME: !dg.kv_cache<sliding, layers = 25, kv_heads = 8, head_dim = 256, window = 1024, bf16>
func.func @cache(%c: !sliding, %k: tensor<?x256x8x256xbf16>, %pos: tensor<?x256xi32>,
                 %len: tensor<?xi32>) -> tensor<?x?x8x256xbf16> {
  // CHECK: dg.kv_cache_write %{{.*}}[3], %{{.*}}, %{{.*}}, %{{.*}} {scratch}
  dg.kv_cache_write %c[3], %k, %k, %pos {scratch} : !sliding, tensor<?x256x8x256xbf16>, tensor<?x256x8x256xbf16>, tensor<?x256xi32>
  // CHECK: dg.kv_cache_write %{{.*}}[24], %{{.*}}, %{{.*}}, %{{.*}} :
  dg.kv_cache_write %c[24], %k, %k, %pos : !sliding, tensor<?x256x8x256xbf16>, tensor<?x256x8x256xbf16>, tensor<?x256xi32>
  // CHECK: %[[K:.*]], %[[V:.*]], %[[P:.*]] = dg.kv_cache_read %{{.*}}[3], %{{.*}} : !dg.kv_cache<sliding
  // CHECK-SAME: -> tensor<?x?x8x256xbf16>, tensor<?x?x8x256xbf16>, tensor<?x?xi32>
  %keys, %values, %kpos = dg.kv_cache_read %c[3], %len : !sliding, tensor<?xi32> -> tensor<?x?x8x256xbf16>, tensor<?x?x8x256xbf16>, tensor<?x?xi32>
  return %keys : tensor<?x?x8x256xbf16>
}

// CHECK-LABEL: func.func @linear_algebra
func.func @linear_algebra(%x: tensor<?x256x2816xbf16>, %q: tensor<?x16x256x512xbf16>,
                          %k: tensor<?x16x300x512xbf16>, %pos: tensor<?x256xi32>,
                          %pos2: tensor<?x256x2xi32>) {
  // CHECK: dg.weight "model.decoder.layers.0.self_attn.q_proj.weight" : tensor<4096x2816xbf16>
  %w = dg.weight "model.decoder.layers.0.self_attn.q_proj.weight" : tensor<4096x2816xbf16>
  // CHECK: dg.matmul %{{.*}}, %{{.*}} {transpose_rhs} : tensor<?x256x2816xbf16>, tensor<4096x2816xbf16> -> tensor<?x256x4096xbf16>
  %y = dg.matmul %x, %w {transpose_rhs} : tensor<?x256x2816xbf16>, tensor<4096x2816xbf16> -> tensor<?x256x4096xbf16>
  // Batched q.k^T, and an f32 result from bf16 operands.
  // CHECK: dg.matmul {{.*}} -> tensor<?x16x256x300xf32>
  %s = dg.matmul %q, %k {transpose_rhs} : tensor<?x16x256x512xbf16>, tensor<?x16x300x512xbf16> -> tensor<?x16x256x300xf32>
  // Broadcast batch dimensions: [B,1] x [E] -> [B,E].
  %e = dg.weight "model.decoder.layers.0.experts.gate_up_proj" : tensor<128x1408x2816xbf16>
  %x4 = dg.reshape %x : tensor<?x256x2816xbf16> -> tensor<?x1x256x2816xbf16>
  // CHECK: -> tensor<?x128x256x1408xbf16>
  %gu = dg.matmul %x4, %e {transpose_rhs} : tensor<?x1x256x2816xbf16>, tensor<128x1408x2816xbf16> -> tensor<?x128x256x1408xbf16>
  %n = dg.weight "model.decoder.norm.weight" : tensor<2816xbf16>
  // CHECK: dg.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.9999999999999995E-7 : f64} : tensor<?x256x2816xbf16>, tensor<2816xbf16>
  %r = dg.rms_norm %x, %n {epsilon = 1.0e-06 : f64} : tensor<?x256x2816xbf16>, tensor<2816xbf16>
  // CHECK: dg.rms_norm %{{.*}} {epsilon = 9.9999999999999995E-7 : f64} : tensor<?x256x2816xbf16>
  %r0 = dg.rms_norm %x {epsilon = 1.0e-06 : f64} : tensor<?x256x2816xbf16>
  %q4 = dg.reshape %y : tensor<?x256x4096xbf16> -> tensor<?x256x8x512xbf16>
  // CHECK: dg.rope {{.*}} {kind = #dg<rope_kind proportional>, partial_rotary_factor = 2.500000e-01 : f64, theta = 1.000000e+06 : f64}
  %rp = dg.rope %q4, %pos {kind = #dg<rope_kind proportional>, theta = 1.0e+06 : f64, partial_rotary_factor = 0.25 : f64} : tensor<?x256x8x512xbf16>, tensor<?x256xi32>
  // CHECK: dg.rope {{.*}} {kind = #dg<rope_kind default>, theta = 1.000000e+04 : f64}
  %rd = dg.rope %q4, %pos {kind = #dg<rope_kind default>, theta = 1.0e+04 : f64} : tensor<?x256x8x512xbf16>, tensor<?x256xi32>
  // CHECK: dg.rope {{.*}} {kind = #dg<rope_kind two_d>, theta = 1.000000e+02 : f64}
  %r2 = dg.rope %q4, %pos2 {kind = #dg<rope_kind two_d>, theta = 1.0e+02 : f64} : tensor<?x256x8x512xbf16>, tensor<?x256x2xi32>
  // CHECK: dg.gated_gelu %{{.*}}, %{{.*}} : tensor<?x256x4096xbf16>
  %g = dg.gated_gelu %y, %y : tensor<?x256x4096xbf16>
  return
}

// CHECK-LABEL: func.func @selection
func.func @selection(%x: tensor<?x256x262144xf32>, %ids: tensor<?x256xi32>) {
  // CHECK: dg.softmax %{{.*}} {axis = 2 : i64} : tensor<?x256x262144xf32>
  %p = dg.softmax %x {axis = 2 : i64} : tensor<?x256x262144xf32>
  // CHECK: dg.reduce <logsumexp> %{{.*}} {axis = 2 : i64} : tensor<?x256x262144xf32> -> tensor<?x256xf32>
  %l = dg.reduce <logsumexp> %x {axis = 2 : i64} : tensor<?x256x262144xf32> -> tensor<?x256xf32>
  // CHECK: dg.reduce <max> {{.*}} : tensor<?x256xi32> -> tensor<?xi32>
  %m = dg.reduce <max> %ids {axis = 1 : i64} : tensor<?x256xi32> -> tensor<?xi32>
  // CHECK: dg.top_k %{{.*}} {k = 64 : i64} : tensor<?x256x262144xf32> -> tensor<?x256x64xf32>, tensor<?x256x64xi32>
  %v, %i = dg.top_k %p {k = 64 : i64} : tensor<?x256x262144xf32> -> tensor<?x256x64xf32>, tensor<?x256x64xi32>
  // CHECK: dg.argmax %{{.*}} : tensor<?x256x262144xf32> -> tensor<?x256xi32>
  %a = dg.argmax %x : tensor<?x256x262144xf32> -> tensor<?x256xi32>
  // CHECK: dg.categorical_sample %{{.*}}, %{{.*}} : tensor<?x256x262144xf32>, tensor<?x256xi32> -> tensor<?x256xi32>
  %c = dg.categorical_sample %x, %ids : tensor<?x256x262144xf32>, tensor<?x256xi32> -> tensor<?x256xi32>
  // CHECK: dg.scatter {{.*}} {size = 262144 : i64} : tensor<?x256x64xf32>, tensor<?x256x64xi32> -> tensor<?x256x262144xf32>
  %d = dg.scatter %v, %i {size = 262144 : i64} : tensor<?x256x64xf32>, tensor<?x256x64xi32> -> tensor<?x256x262144xf32>
  return
}

// CHECK-LABEL: func.func @gather_masks
func.func @gather_masks(%ids: tensor<?x256xi32>, %kpos: tensor<?x?xi32>, %len: tensor<?xi32>,
                        %h: tensor<?x2520x1152xbf16>, %ppos: tensor<?x2520x2xi32>,
                        %spans: tensor<?x256x2xi32>) {
  %e = dg.weight "model.decoder.embed_tokens.weight" : tensor<262144x2816xbf16>
  // CHECK: dg.gather %{{.*}}[%{{.*}}] : tensor<262144x2816xbf16>, tensor<?x256xi32> -> tensor<?x256x2816xbf16>
  %x = dg.gather %e[%ids] : tensor<262144x2816xbf16>, tensor<?x256xi32> -> tensor<?x256x2816xbf16>
  // CHECK: dg.mask {{.*}} {kind = #dg<mask_kind canvas>, window = 1024 : i64} : tensor<?x256xi32>, tensor<?x?xi32>, tensor<?xi32> -> tensor<?x256x?xbf16>
  %mc = dg.mask %ids, %kpos, %len {kind = #dg<mask_kind canvas>, window = 1024 : i64} : tensor<?x256xi32>, tensor<?x?xi32>, tensor<?xi32> -> tensor<?x256x?xbf16>
  // CHECK: dg.mask {{.*}} {kind = #dg<mask_kind causal>} : tensor<?x256xi32>, tensor<?x?xi32> -> tensor<?x256x?xf32>
  %m = dg.mask %ids, %kpos {kind = #dg<mask_kind causal>} : tensor<?x256xi32>, tensor<?x?xi32> -> tensor<?x256x?xf32>
  // CHECK: dg.mask %{{.*}}, %{{.*}} spans %{{.*}} {kind = #dg<mask_kind causal>, window = 1024 : i64} : tensor<?x256xi32>, tensor<?x?xi32> spans tensor<?x256x2xi32> -> tensor<?x256x?xf32>
  %ms = dg.mask %ids, %kpos spans %spans {kind = #dg<mask_kind causal>, window = 1024 : i64} : tensor<?x256xi32>, tensor<?x?xi32> spans tensor<?x256x2xi32> -> tensor<?x256x?xf32>
  // CHECK: dg.iota : tensor<256xi32>
  %io = dg.iota : tensor<256xi32>
  // CHECK: dg.patch_pool {{.*}} {kernel = 3 : i64, output_length = 280 : i64} : tensor<?x2520x1152xbf16>, tensor<?x2520x2xi32> -> tensor<?x280x1152xbf16>
  %pp = dg.patch_pool %h, %ppos {kernel = 3 : i64, output_length = 280 : i64} : tensor<?x2520x1152xbf16>, tensor<?x2520x2xi32> -> tensor<?x280x1152xbf16>
  return
}

// CHECK-LABEL: func.func @shapes_and_arith
func.func @shapes_and_arith(%x: tensor<?x256x16x256xbf16>, %l: tensor<?x256x262144xf32>,
                            %t: tensor<?xf32>, %b: tensor<?xi1>) {
  // CHECK: dg.transpose %{{.*}} [0, 2, 1, 3] : tensor<?x256x16x256xbf16> -> tensor<?x16x256x256xbf16>
  %tr = dg.transpose %x [0, 2, 1, 3] : tensor<?x256x16x256xbf16> -> tensor<?x16x256x256xbf16>
  // CHECK: dg.slice {{.*}} {axis = 2 : i64, size = 8 : i64, start = 8 : i64}
  %s = dg.slice %x {axis = 2 : i64, start = 8 : i64, size = 8 : i64} : tensor<?x256x16x256xbf16> -> tensor<?x256x8x256xbf16>
  // CHECK: dg.repeat_interleave {{.*}} {axis = 2 : i64, repeats = 2 : i64} : tensor<?x256x8x256xbf16> -> tensor<?x256x16x256xbf16>
  %ri = dg.repeat_interleave %s {axis = 2 : i64, repeats = 2 : i64} : tensor<?x256x8x256xbf16> -> tensor<?x256x16x256xbf16>
  // CHECK: dg.cast %{{.*}} : tensor<?xi1> -> tensor<?xbf16>
  %c = dg.cast %b : tensor<?xi1> -> tensor<?xbf16>
  %cap = arith.constant dense<3.0e+01> : tensor<f32>
  // CHECK: dg.div %{{.*}}, %{{.*}} : tensor<?x256x262144xf32>, tensor<f32> -> tensor<?x256x262144xf32>
  %d = dg.div %l, %cap : tensor<?x256x262144xf32>, tensor<f32> -> tensor<?x256x262144xf32>
  // CHECK: dg.tanh %{{.*}} : tensor<?x256x262144xf32>
  %th = dg.tanh %d : tensor<?x256x262144xf32>
  // CHECK: dg.mul {{.*}} : tensor<?x256x262144xf32>, tensor<f32> -> tensor<?x256x262144xf32>
  %m = dg.mul %th, %cap : tensor<?x256x262144xf32>, tensor<f32> -> tensor<?x256x262144xf32>
  %t3 = dg.reshape %t : tensor<?xf32> -> tensor<?x1x1xf32>
  // CHECK: dg.sub {{.*}} : tensor<?x256x262144xf32>, tensor<?x1x1xf32> -> tensor<?x256x262144xf32>
  %sb = dg.sub %m, %t3 : tensor<?x256x262144xf32>, tensor<?x1x1xf32> -> tensor<?x256x262144xf32>
  // CHECK: dg.add
  %a = dg.add %sb, %sb : tensor<?x256x262144xf32>, tensor<?x256x262144xf32> -> tensor<?x256x262144xf32>
  // CHECK: dg.exp
  %ex = dg.exp %a : tensor<?x256x262144xf32>
  // CHECK: dg.log
  %lg = dg.log %ex : tensor<?x256x262144xf32>
  return
}

// The attention core, on tensors and, after bufferization, on memrefs.
// CHECK-LABEL: func.func @masked_attention
func.func @masked_attention(%q: tensor<?x256x16x512xbf16>, %k: tensor<?x?x2x512xbf16>, %m: tensor<?x256x?xbf16>, %o: tensor<?x256x16x512xbf16>, %qb: memref<?x256x16x512xbf16>, %kb: memref<?x?x2x512xbf16>, %mb: memref<?x256x?xbf16>) -> tensor<?x256x16x512xbf16> {
  // CHECK: dg.masked_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} {scale = 1.000000e+00 : f64} : tensor<?x256x16x512xbf16>, tensor<?x?x2x512xbf16>, tensor<?x?x2x512xbf16>, tensor<?x256x?xbf16> into tensor<?x256x16x512xbf16> -> tensor<?x256x16x512xbf16>
  %a = dg.masked_attention %q, %k, %k, %m into %o {scale = 1.0 : f64} : tensor<?x256x16x512xbf16>, tensor<?x?x2x512xbf16>, tensor<?x?x2x512xbf16>, tensor<?x256x?xbf16> into tensor<?x256x16x512xbf16> -> tensor<?x256x16x512xbf16>
  // CHECK: dg.masked_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} into %{{.*}} {scale = 1.000000e+00 : f64} : memref<?x256x16x512xbf16>, memref<?x?x2x512xbf16>, memref<?x?x2x512xbf16>, memref<?x256x?xbf16> into memref<?x256x16x512xbf16>
  // CHECK-NOT: ->
  dg.masked_attention %qb, %kb, %kb, %mb into %qb {scale = 1.0 : f64} : memref<?x256x16x512xbf16>, memref<?x?x2x512xbf16>, memref<?x?x2x512xbf16>, memref<?x256x?xbf16> into memref<?x256x16x512xbf16>
  return %a : tensor<?x256x16x512xbf16>
}

// The paged form: keys and values are a pool's rows, `rows` their numbers.
// CHECK-LABEL: func.func @masked_attention_paged
func.func @masked_attention_paged(%q: memref<2x256x16x512xbf16>, %pool: memref<?x2x512xbf16>, %rows: memref<2x?x2xi64>, %m: memref<2x256x?xbf16>) {
  // CHECK: dg.masked_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} rows %{{.*}} into %{{.*}} {scale = 1.000000e+00 : f64} : memref<2x256x16x512xbf16>, memref<?x2x512xbf16>, memref<?x2x512xbf16>, memref<2x256x?xbf16> rows memref<2x?x2xi64> into memref<2x256x16x512xbf16>
  dg.masked_attention %q, %pool, %pool, %m rows %rows into %q {scale = 1.0 : f64} : memref<2x256x16x512xbf16>, memref<?x2x512xbf16>, memref<?x2x512xbf16>, memref<2x256x?xbf16> rows memref<2x?x2xi64> into memref<2x256x16x512xbf16>
  return
}
