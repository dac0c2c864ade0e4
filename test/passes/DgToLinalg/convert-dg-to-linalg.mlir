// RUN: dgc-opt %s --convert-dg-to-linalg -split-input-file | FileCheck %s

// Binary ops broadcast with constant-0 indexing and compute in f32.
// CHECK-DAG: #[[ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[BC:.*]] = affine_map<(d0, d1) -> (0, d1)>
// CHECK-LABEL: func.func @add_broadcast
func.func @add_broadcast(%a: tensor<?x8xbf16>, %b: tensor<1x8xbf16>) -> tensor<?x8xbf16> {
  // CHECK: %[[D:.*]] = tensor.dim %{{.*}}, %c0
  // CHECK: tensor.empty(%[[D]]) : tensor<?x8xbf16>
  // CHECK: linalg.generic {indexing_maps = [#[[ID]], #[[BC]], #[[ID]]]
  // CHECK: arith.extf
  // CHECK: arith.addf {{.*}} : f32
  // CHECK: arith.truncf
  // CHECK-NOT: dg.add
  %r = dg.add %a, %b : tensor<?x8xbf16>, tensor<1x8xbf16> -> tensor<?x8xbf16>
  return %r : tensor<?x8xbf16>
}

// -----

// Integer arithmetic stays integer.
// CHECK-LABEL: func.func @positions
func.func @positions(%l: tensor<?x1xi32>) -> tensor<?x16xi32> {
  // CHECK: linalg.generic
  // CHECK: linalg.index 0
  %i = dg.iota : tensor<16xi32>
  // CHECK: arith.addi
  %p = dg.add %l, %i : tensor<?x1xi32>, tensor<16xi32> -> tensor<?x16xi32>
  return %p : tensor<?x16xi32>
}

// -----

// A transposed-rhs matmul with a broadcast weight accumulates in f32 and
// rounds once.
// CHECK-DAG: #[[LHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[RHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @linear
func.func @linear(%x: tensor<?x16x64xbf16>) -> tensor<?x16x32xbf16> {
  // CHECK: %[[W:.*]] = dg.weight
  %w = dg.weight "w" : tensor<32x64xbf16>
  // CHECK: linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x16x32xf32>)
  // CHECK: linalg.generic {indexing_maps = [#[[LHS]], #[[RHS]], #[[OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
  // CHECK-SAME: ins(%{{.*}}, %[[W]] : tensor<?x16x64xbf16>, tensor<32x64xbf16>)
  // CHECK: arith.mulf
  // CHECK: arith.addf
  // CHECK: arith.truncf {{.*}} : f32 to bf16
  %y = dg.matmul %x, %w {transpose_rhs} : tensor<?x16x64xbf16>, tensor<32x64xbf16> -> tensor<?x16x32xbf16>
  return %y : tensor<?x16x32xbf16>
}

// -----

// An rhs of [k, n] (no transpose): the reduction loop nests outside n, so
// the innermost loop reads rhs rows contiguously.
// CHECK-DAG: #[[PLHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-DAG: #[[PRHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-DAG: #[[POUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-LABEL: func.func @probabilities_times_table
func.func @probabilities_times_table(%p: tensor<?x16x512xbf16>) -> tensor<?x16x64xbf16> {
  %e = dg.weight "e" : tensor<512x64xbf16>
  // CHECK: linalg.generic {indexing_maps = [#[[PLHS]], #[[PRHS]], #[[POUT]]], iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
  // CHECK-SAME: ins(%{{.*}}, %{{.*}} : tensor<?x16x512xbf16>, tensor<512x64xbf16>)
  %y = dg.matmul %p, %e : tensor<?x16x512xbf16>, tensor<512x64xbf16> -> tensor<?x16x64xbf16>
  return %y : tensor<?x16x64xbf16>
}

// -----

// dg.soft_embedding: the rows' softmax statistics in one pass, the
// probabilities stored once in the table's type, their product with the
// table, the scale. No [positions x vocabulary] f32 tensor.
// CHECK-LABEL: func.func @soft_embedding
// CHECK-NOT: tensor<?x16x512xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<?x16x512xbf16>) outs({{.*}} : tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x16xi32>) attrs = {dg.contract = #dg.row_statistics}
// CHECK-NOT: tensor<?x16x512xf32>
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction", "parallel"]
// CHECK-SAME: ins(%{{.*}}, %{{.*}} : tensor<?x16x512xbf16>, tensor<512x64xbf16>)
// CHECK-NOT: tensor<?x16x512xf32>
// CHECK: return
func.func @soft_embedding(%x: tensor<?x16x512xbf16>) -> tensor<?x16x64xbf16> {
  %e = dg.weight "e" : tensor<512x64xbf16>
  %y = dg.soft_embedding %x, %e {scale = 8.0 : f64} : tensor<?x16x512xbf16>, tensor<512x64xbf16> -> tensor<?x16x64xbf16>
  return %y : tensor<?x16x64xbf16>
}

// -----

// RMSNorm: a sum of squares per row, then x * rsqrt(mean + eps) * w.
// CHECK-LABEL: func.func @rms_norm
func.func @rms_norm(%x: tensor<?x64xf32>, %w: tensor<64xf32>) -> tensor<?x64xf32> {
  // CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
  // CHECK: linalg.generic
  // CHECK: math.rsqrt
  %y = dg.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Softmax: row max, row sum of exp(x - max), then the quotient.
// CHECK-LABEL: func.func @softmax
func.func @softmax(%x: tensor<?x4x8xf32>) -> tensor<?x4x8xf32> {
  // CHECK: arith.maximumf
  // CHECK: math.exp
  // CHECK: math.exp
  // CHECK: arith.divf
  %y = dg.softmax %x {axis = 2 : i64} : tensor<?x4x8xf32>
  return %y : tensor<?x4x8xf32>
}

// -----

// A categorical draw: one best-of-rows pass in which each logit competes
// with its Gumbel noise from (seed, index) added; no noisy copy of the row.
// CHECK-LABEL: func.func @categorical_sample
func.func @categorical_sample(%x: tensor<?x512xbf16>, %s: tensor<?xi32>) -> tensor<?xi32> {
  // CHECK-NOT: tensor.empty{{.*}}tensor<?x512xf32>
  // CHECK: %[[D:.*]]:2 = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}}, %{{.*}} : tensor<?x512xbf16>, tensor<?xi32>) outs(%{{.*}}, %{{.*}} : tensor<?xf32>, tensor<?xi32>) attrs = {dg.contract = #dg.best_of_rows}
  // CHECK: linalg.index 1
  // CHECK: arith.muli
  // CHECK: arith.xori
  // CHECK: arith.uitofp
  // CHECK: math.log
  // CHECK: math.log
  // CHECK: arith.extf
  // CHECK: arith.addf
  // CHECK: arith.cmpf ogt
  // CHECK: return %[[D]]#1
  // CHECK-NOT: dg.categorical_sample
  %d = dg.categorical_sample %x, %s : tensor<?x512xbf16>, tensor<?xi32> -> tensor<?xi32>
  return %d : tensor<?xi32>
}

// -----

// Top-k: k passes of a restricted argmax in an scf.for, each inserted as a
// column; the loop is marked with k for the GPU's selection kernel.
// CHECK-LABEL: func.func @top_k
func.func @top_k(%x: tensor<?x512xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>) {
  // CHECK: %[[K:.*]] = arith.constant 4 : index
  // CHECK: scf.for %{{.*}} = %{{.*}} to %[[K]]
  // CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
  // CHECK: tensor.insert_slice
  // CHECK: tensor.insert_slice
  // CHECK: } {dg.contract = #dg.top_k_loop<k = 4>}
  %v, %i = dg.top_k %x {k = 4 : i64} : tensor<?x512xf32> -> tensor<?x4xf32>, tensor<?x4xi32>
  return %v, %i : tensor<?x4xf32>, tensor<?x4xi32>
}

// -----

// Gather reads a zero row for out-of-range ids.
// CHECK-LABEL: func.func @gather
func.func @gather(%t: tensor<512x64xf32>, %ids: tensor<?x16xi32>) -> tensor<?x16x64xf32> {
  // CHECK: linalg.generic
  // CHECK-DAG: arith.cmpi sge
  // CHECK-DAG: arith.cmpi slt
  // CHECK: tensor.extract
  // CHECK: arith.select
  %e = dg.gather %t[%ids] : tensor<512x64xf32>, tensor<?x16xi32> -> tensor<?x16x64xf32>
  return %e : tensor<?x16x64xf32>
}

// -----

// The decoder's windowed mask needs the committed lengths.
// CHECK-LABEL: func.func @canvas_mask
func.func @canvas_mask(%q: tensor<?x16xi32>, %k: tensor<?x?xi32>, %l: tensor<?xi32>) -> tensor<?x16x?xf32> {
  // CHECK: linalg.generic
  // CHECK: arith.constant 15 : i32
  // CHECK: arith.ori
  // CHECK: arith.constant 0xFF800000 : f32
  %m = dg.mask %q, %k, %l {kind = #dg<mask_kind canvas>, window = 16 : i64} : tensor<?x16xi32>, tensor<?x?xi32>, tensor<?xi32> -> tensor<?x16x?xf32>
  return %m : tensor<?x16x?xf32>
}

// -----

// Proportional RoPE: a table of inverse frequencies, zero past the rotated
// pairs.
// CHECK-LABEL: func.func @rope
func.func @rope(%x: tensor<?x?x4x8xf32>, %p: tensor<?x?xi32>) -> tensor<?x?x4x8xf32> {
  // CHECK: arith.constant dense<[1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00]> : tensor<4xf32>
  // CHECK: math.cos
  // CHECK: math.sin
  %y = dg.rope %x, %p {kind = #dg<rope_kind proportional>, theta = 1.0e+06 : f64, partial_rotary_factor = 0.25 : f64} : tensor<?x?x4x8xf32>, tensor<?x?xi32>
  return %y : tensor<?x?x4x8xf32>
}

// -----

// Shape ops become tensor ops; GQA broadcast reads input head h / repeats.
// CHECK-DAG: #[[REP:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 floordiv 4, d2, d3)>
// CHECK-LABEL: func.func @shapes
func.func @shapes(%x: tensor<?x16x64xf32>) -> tensor<?x8x16x16xf32> {
  // CHECK: tensor.reshape
  %r = dg.reshape %x : tensor<?x16x64xf32> -> tensor<?x16x4x16xf32>
  // CHECK: tensor.extract_slice %{{.*}}[0, 0, 2, 0] [%{{.*}}, 16, 2, 16] [1, 1, 1, 1]
  %s = dg.slice %r {axis = 2 : i64, start = 2 : i64, size = 2 : i64} : tensor<?x16x4x16xf32> -> tensor<?x16x2x16xf32>
  // CHECK: linalg.transpose
  %t = dg.transpose %s [0, 2, 1, 3] : tensor<?x16x2x16xf32> -> tensor<?x2x16x16xf32>
  // CHECK: linalg.generic {indexing_maps = [#[[REP]],
  %g = dg.repeat_interleave %t {axis = 1 : i64, repeats = 4 : i64} : tensor<?x2x16x16xf32> -> tensor<?x8x16x16xf32>
  return %g : tensor<?x8x16x16xf32>
}

// -----

// The runtime interface is left for its own pass.
// CHECK-LABEL: func.func @cache
func.func @cache(%c: !dg.kv_cache<full, layers = 1, kv_heads = 1, head_dim = 8, window = 0, f32>, %k: tensor<?x?x1x8xf32>, %p: tensor<?x?xi32>) {
  // CHECK: dg.kv_cache_write
  dg.kv_cache_write %c[0], %k, %k, %p : !dg.kv_cache<full, layers = 1, kv_heads = 1, head_dim = 8, window = 0, f32>, tensor<?x?x1x8xf32>, tensor<?x?x1x8xf32>, tensor<?x?xi32>
  return
}

// -----

// dg.moe: the router as primitives (then lowered), and only the chosen
// experts' weights read, by index, inside the loops.
// CHECK-LABEL: func.func @moe
func.func @moe(%r: tensor<?x?x64xf32>, %x: tensor<?x?x64xf32>, %scale: tensor<64xf32>, %proj: tensor<8x64xf32>, %pes: tensor<8xf32>, %gate_up: tensor<8x64x64xf32>, %down: tensor<8x64x32xf32>) -> tensor<?x?x64xf32> {
  // CHECK-NOT: dg.moe
  // CHECK: scf.for
  // CHECK: linalg.generic
  // CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x64x64xf32>
  // CHECK: math.tanh
  // CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : tensor<8x64x32xf32>
  // CHECK-NOT: dg.
  %m = dg.moe %r, %x, %scale, %proj, %pes, %gate_up, %down {epsilon = 1.0e-06 : f64, top_k = 2 : i64} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<64xf32>, tensor<8x64xf32>, tensor<8xf32>, tensor<8x64x64xf32>, tensor<8x64x32xf32> -> tensor<?x?x64xf32>
  return %m : tensor<?x?x64xf32>
}

