// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-tensor-core-contractions))" --split-input-file | FileCheck %s

// A linear layer as the host lowering writes it: bf16 x bf16 into f32, the
// weight read transposed through its map. It becomes one launch of 128
// threads per 64 x 32 tile, staging both operands in shared memory and
// multiplying with m16n8k16 bf16 mma.sync.
#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @linear
// CHECK-NOT: linalg.generic
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}}) threads({{.*}}) in ({{.*}} = %c128{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}) workgroup(%{{.*}} : memref<64x16xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<16x32xbf16, #gpu.address_space<workgroup>>)
// CHECK: scf.for
// CHECK: gpu.barrier
// CHECK-COUNT-4: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK: gpu.barrier
// CHECK: memref.store %{{.*}}, %arg2[
func.func @linear(%a: memref<?x16x512xbf16>, %b: memref<64x512xbf16>, %c: memref<?x16x64xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<?x16x512xbf16>, memref<64x512xbf16>) outs(%c : memref<?x16x64xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

// Attention scores q k^T per request and head: the two batch loops become
// the grid's z (requests x heads), each block reading its own q and k rows.
#q = affine_map<(b, h, t, s, d) -> (b, h, t, d)>
#k = affine_map<(b, h, t, s, d) -> (b, h, s, d)>
#o = affine_map<(b, h, t, s, d) -> (b, h, t, s)>
// CHECK-LABEL: func.func @attention_scores
// CHECK: %[[B:.*]] = memref.dim %arg0, %c0
// CHECK: %[[H:.*]] = memref.dim %arg0, %c1
// CHECK: %[[Z:.*]] = arith.muli %{{.*}}, %[[B]]
// CHECK: %[[ZH:.*]] = arith.muli %[[Z]], %[[H]]
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}}, {{.*}}, %{{.*}} = %[[ZH]])
// CHECK-COUNT-4: nvvm.mma.sync
func.func @attention_scores(%q: memref<?x4x16x32xbf16>, %k: memref<?x4x?x32xbf16>, %s: memref<?x4x16x?xf32>) {
  linalg.generic {indexing_maps = [#q, #k, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<?x4x16x32xbf16>, memref<?x4x?x32xbf16>) outs(%s : memref<?x4x16x?xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

// f32 operands stay for the general kernels (tensor cores would round them).
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d2, d1)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @f32_operands
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
func.func @f32_operands(%a: memref<?x64xf32>, %b: memref<64x32xf32>, %c: memref<?x32xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<?x64xf32>, memref<64x32xf32>) outs(%c : memref<?x32xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %2 = arith.mulf %in, %in_0 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

// Two reduction loops are not one K: left alone.
#x = affine_map<(d0, d1, d2, d3) -> (d0, d2, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3, d1)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1)>
// CHECK-LABEL: func.func @two_reductions
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
func.func @two_reductions(%a: memref<8x4x4xbf16>, %b: memref<4x4x8xbf16>, %c: memref<8x8xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction", "reduction"]}
      ins(%a, %b : memref<8x4x4xbf16>, memref<4x4x8xbf16>) outs(%c : memref<8x8xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// -----

// A reduction that is not a product (a sum of squares) is no contraction.
#x = affine_map<(d0, d1) -> (d0, d1)>
#y = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @not_a_contraction
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
func.func @not_a_contraction(%a: memref<8x16xbf16>, %c: memref<8xf32>) {
  linalg.generic {indexing_maps = [#x, #y], iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<8x16xbf16>) outs(%c : memref<8xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.mulf %0, %0 : f32
    %2 = arith.addf %out, %1 : f32
    linalg.yield %2 : f32
  }
  return
}
