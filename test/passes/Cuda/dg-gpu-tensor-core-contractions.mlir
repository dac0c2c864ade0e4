// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-tensor-core-contractions))" --split-input-file | FileCheck %s
// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-tensor-core-contractions{wide-columns=64}))" --split-input-file | FileCheck %s --check-prefix=WIDE64
// RUN: not dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-tensor-core-contractions{wide-columns=0}))" --split-input-file 2>&1 | FileCheck %s --check-prefix=BADWIDE
// BADWIDE: error: wide-columns must be at least 1, got 0
// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-tensor-core-contractions{stages=4}))" --split-input-file | FileCheck %s --check-prefix=STAGES4
// RUN: not dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-tensor-core-contractions{stages=1}))" --split-input-file 2>&1 | FileCheck %s --check-prefix=BADSTAGES
// BADSTAGES: error: stages must be in [2, 8], got 1

// stages=4: rings of four tiles, three in flight, where they fit in 48 KB
// of static shared memory (the 64 x 32 tile: 30 KB); the 128 x 64 tile
// would need 60 KB and keeps three (45 KB).
// STAGES4-LABEL: func.func @linear_both_ahead
// STAGES4: workgroup(%{{.*}} : memref<256x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<128x40xbf16, #gpu.address_space<workgroup>>)
// STAGES4-COUNT-3: nvgpu.device_async_create_group
// STAGES4: scf.for
// STAGES4: nvgpu.device_async_wait %{{.*}} {numGroups = 3 : i32}
// STAGES4-LABEL: func.func @wide
// STAGES4: workgroup(%{{.*}} : memref<384x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<192x40xbf16, #gpu.address_space<workgroup>>)
// STAGES4: nvgpu.device_async_wait %{{.*}} {numGroups = 2 : i32}

// wide-columns=64 gives the 64-column linear layer below the wide tile.
// WIDE64-LABEL: func.func @linear
// WIDE64: arith.ceildivui %{{.*}}, %c128
// WIDE64: arith.ceildivui %{{.*}}, %c64
// WIDE64: workgroup(%{{.*}} : memref<128x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<64x40xbf16, #gpu.address_space<workgroup>>)

// A linear layer as the host lowering writes it: bf16 x bf16 into f32, the
// weight read transposed through its map. It becomes one launch of 128
// threads per 64 x 32 tile, staging 32 of K of both operands in shared
// memory (rows padded by 8 against bank conflicts; B with k fastest, as the
// weight is stored) and multiplying with m16n8k16 bf16 mma.sync, two rounds
// of four per stage. The grid's x walks the tiles of rows and its y the
// weight's tiles of columns, so the blocks that read one weight tile start
// together.
#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @linear
// CHECK-NOT: linalg.generic
// CHECK: %[[ROWTILES:.*]] = arith.ceildivui %{{.*}}, %c64
// CHECK: %[[COLTILES:.*]] = arith.ceildivui %{{.*}}, %c32
// CHECK: gpu.launch blocks(%[[BX:[^,]*]], %[[BY:[^,]*]], %{{[^)]*}}) in (%{{[^ ]*}} = %[[ROWTILES]], %{{[^ ]*}} = %[[COLTILES]], %{{[^)]*}}) threads({{.*}}) in ({{.*}} = %c128{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}) workgroup(%[[SA:.*]] : memref<64x40xbf16, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<32x40xbf16, #gpu.address_space<workgroup>>)
// CHECK-DAG: arith.muli %[[BX]], %c64
// CHECK-DAG: arith.muli %[[BY]], %c32
// CHECK: scf.for
// CHECK: gpu.barrier
// Per 16 of K, one ldmatrix.x4 for A's fragment and one per two n8 tiles of
// B (stored [n][k], so not transposed).
// CHECK: nvgpu.ldmatrix %[[SA]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false} : memref<64x40xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK: nvgpu.ldmatrix %[[SB]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false} : memref<32x40xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK-COUNT-2: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[SB]]
// CHECK-COUNT-2: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[SA]]
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
// CHECK: %[[H:.*]] = arith.constant 4 : index
// CHECK: %[[Z:.*]] = arith.muli %{{.*}}, %[[B]]
// CHECK: %[[ZH:.*]] = arith.muli %[[Z]], %[[H]]
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}}, {{.*}}, %{{.*}} = %[[ZH]])
// CHECK-COUNT-8: nvvm.mma.sync
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

// -----

// A grouped expert projection from convert-dg-to-linalg: one block per 16
// rows (one expert's tile; the grid's x) with 4 warps along N, 16 x 128 of
// C (the grid's y walks the tiles of N). The block reads its tile's expert
// once, returns at once for unused tiles (-1), and stages that expert's
// weights with k fastest.
#rows = affine_map<(m, i, n, k) -> (m, i, k)>
#tile = affine_map<(m, i, n, k) -> (m)>
#out = affine_map<(m, i, n, k) -> (m, i, n)>
// CHECK-LABEL: func.func @grouped
// CHECK-NOT: linalg.generic
// CHECK: gpu.launch blocks(%[[BX:[^,]*]], {{.*}}) in ({{.*}}) threads({{.*}}) in ({{.*}} = %c128{{.*}}, {{.*}} = %c1{{.*}}, {{.*}} = %c1{{.*}}) workgroup(%{{.*}} : memref<16x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<128x40xbf16, #gpu.address_space<workgroup>>)
// CHECK: %[[FIRST:.*]] = arith.muli %[[BX]], %c16
// CHECK: %[[TILE:.*]] = arith.divui %[[FIRST]], %c16
// CHECK: %[[E:.*]] = memref.load %arg1[%[[TILE]]] : memref<?xi32>
// CHECK: %[[USED:.*]] = arith.cmpi sge, %[[E]], %{{.*}} : i32
// CHECK: scf.if %[[USED]] {
// CHECK: %[[EI:.*]] = arith.index_cast %[[E]] : i32 to index
// CHECK: scf.for
// CHECK: memref.load %arg0[
// CHECK: memref.load %arg2[%[[EI]], %{{.*}}, %{{.*}}] : memref<8x96x64xbf16>
// CHECK: gpu.barrier
// CHECK-COUNT-8: nvvm.mma.sync
// CHECK: memref.store %{{.*}}, %arg3[
// CHECK-NOT: linalg.generic
func.func @grouped(%rows: memref<?x16x64xbf16>, %tile_expert: memref<?xi32>, %w: memref<8x96x64xbf16>, %out: memref<?x16x96xf32>) {
  linalg.generic {indexing_maps = [#rows, #tile, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%rows, %tile_expert : memref<?x16x64xbf16>, memref<?xi32>) outs(%out : memref<?x16x96xf32>) attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 16>} {
  ^bb0(%in: bf16, %e: i32, %acc: f32):
    %c0 = arith.constant 0 : i32
    %0 = arith.maxsi %e, %c0 : i32
    %1 = arith.index_cast %0 : i32 to index
    %2 = linalg.index 2 : index
    %3 = linalg.index 3 : index
    %4 = memref.load %w[%1, %2, %3] : memref<8x96x64xbf16>
    %5 = arith.extf %4 : bf16 to f32
    %6 = arith.extf %in : bf16 to f32
    %7 = arith.mulf %6, %5 : f32
    %8 = arith.addf %acc, %7 : f32
    linalg.yield %8 : f32
  }
  return
}

// -----

// Tiles of 8 rows cannot be 16-row blocks of one expert: left to the
// general kernels.
#rows = affine_map<(m, i, n, k) -> (m, i, k)>
#tile = affine_map<(m, i, n, k) -> (m)>
#out = affine_map<(m, i, n, k) -> (m, i, n)>
// CHECK-LABEL: func.func @grouped_by_eight
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
func.func @grouped_by_eight(%rows: memref<?x8x64xbf16>, %tile_expert: memref<?xi32>, %w: memref<8x96x64xbf16>, %out: memref<?x8x96xf32>) {
  linalg.generic {indexing_maps = [#rows, #tile, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%rows, %tile_expert : memref<?x8x64xbf16>, memref<?xi32>) outs(%out : memref<?x8x96xf32>) attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 8>} {
  ^bb0(%in: bf16, %e: i32, %acc: f32):
    %c0 = arith.constant 0 : i32
    %0 = arith.maxsi %e, %c0 : i32
    %1 = arith.index_cast %0 : i32 to index
    %2 = linalg.index 2 : index
    %3 = linalg.index 3 : index
    %4 = memref.load %w[%1, %2, %3] : memref<8x96x64xbf16>
    %5 = arith.extf %4 : bf16 to f32
    %6 = arith.extf %in : bf16 to f32
    %7 = arith.mulf %6, %5 : f32
    %8 = arith.addf %acc, %7 : f32
    linalg.yield %8 : f32
  }
  return
}

// -----

// Weights viewed from the arena at an offset that is a multiple of 16 bytes
// (K a multiple of 8) are copied with 16-byte cp.async into a ring of three
// shared buffers: two tiles of K start before the loop, each iteration starts
// the tile two ahead, stages the rows (an argument: no alignment known) in
// step, and waits for its own tile (at most 2 newer groups pending) before
// the barrier; the block waits for the copies past the end before it ends.
// At another offset, the weights are staged element by element.
#rows = affine_map<(m, i, n, k) -> (m, i, k)>
#tile = affine_map<(m, i, n, k) -> (m)>
#out = affine_map<(m, i, n, k) -> (m, i, n)>
// CHECK-LABEL: func.func @grouped_from_the_arena
// CHECK: %[[W:.*]] = memref.view %arg0[%c4096][]
// CHECK: gpu.launch {{.*}} workgroup(%[[SA:.*]] : memref<16x40xbf16, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<384x40xbf16, #gpu.address_space<workgroup>>)
// CHECK-NOT: vector.load
// CHECK: nvgpu.device_async_copy %[[W]][%{{.*}}, %{{.*}}, %{{.*}}], %[[SB]][%{{.*}}, %{{.*}}], 8, %{{.*}} {bypassL1} : memref<8x96x64xbf16> to memref<384x40xbf16, #gpu.address_space<workgroup>>
// CHECK: nvgpu.device_async_create_group
// CHECK: nvgpu.device_async_copy %[[W]]
// CHECK: nvgpu.device_async_create_group
// CHECK: scf.for
// CHECK: nvgpu.device_async_copy %[[W]]
// CHECK: %[[AHEAD:.*]] = nvgpu.device_async_create_group
// CHECK-NOT: nvgpu.device_async_create_group
// CHECK: memref.load %arg1[
// CHECK: memref.store %{{.*}}, %[[SA]]
// CHECK-NOT: nvgpu.device_async_create_group
// CHECK: nvgpu.device_async_wait %[[AHEAD]] {numGroups = 2 : i32}
// CHECK-NEXT: gpu.barrier
// CHECK-COUNT-8: nvvm.mma.sync
// CHECK: gpu.barrier
// CHECK: scf.yield
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 0 : i32}
// CHECK-NOT: vector.load
func.func @grouped_from_the_arena(%arena: memref<?xi8>, %rows: memref<?x16x64xbf16>, %tile_expert: memref<?xi32>, %out: memref<?x16x96xf32>) {
  %c4096 = arith.constant 4096 : index
  %w = memref.view %arena[%c4096][] : memref<?xi8> to memref<8x96x64xbf16>
  linalg.generic {indexing_maps = [#rows, #tile, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%rows, %tile_expert : memref<?x16x64xbf16>, memref<?xi32>) outs(%out : memref<?x16x96xf32>) attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 16>} {
  ^bb0(%in: bf16, %e: i32, %acc: f32):
    %c0 = arith.constant 0 : i32
    %0 = arith.maxsi %e, %c0 : i32
    %1 = arith.index_cast %0 : i32 to index
    %2 = linalg.index 2 : index
    %3 = linalg.index 3 : index
    %4 = memref.load %w[%1, %2, %3] : memref<8x96x64xbf16>
    %5 = arith.extf %4 : bf16 to f32
    %6 = arith.extf %in : bf16 to f32
    %7 = arith.mulf %6, %5 : f32
    %8 = arith.addf %acc, %7 : f32
    linalg.yield %8 : f32
  }
  return
}

// CHECK-LABEL: func.func @grouped_misaligned
// CHECK: gpu.launch {{.*}} workgroup(%{{.*}} : memref<16x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<128x40xbf16, #gpu.address_space<workgroup>>)
// CHECK-NOT: vector.load
// CHECK-NOT: nvgpu.device_async
// CHECK: memref.load %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : memref<8x96x64xbf16>
// CHECK-NOT: vector.load
// CHECK-NOT: nvgpu.device_async
// CHECK: return
func.func @grouped_misaligned(%arena: memref<?xi8>, %rows: memref<?x16x64xbf16>, %tile_expert: memref<?xi32>, %out: memref<?x16x96xf32>) {
  %c4104 = arith.constant 4104 : index
  %w = memref.view %arena[%c4104][] : memref<?xi8> to memref<8x96x64xbf16>
  linalg.generic {indexing_maps = [#rows, #tile, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%rows, %tile_expert : memref<?x16x64xbf16>, memref<?xi32>) outs(%out : memref<?x16x96xf32>) attrs = {dg.contract = #dg.grouped_by_expert<group_rows = 16>} {
  ^bb0(%in: bf16, %e: i32, %acc: f32):
    %c0 = arith.constant 0 : i32
    %0 = arith.maxsi %e, %c0 : i32
    %1 = arith.index_cast %0 : i32 to index
    %2 = linalg.index 2 : index
    %3 = linalg.index 3 : index
    %4 = memref.load %w[%1, %2, %3] : memref<8x96x64xbf16>
    %5 = arith.extf %4 : bf16 to f32
    %6 = arith.extf %in : bf16 to f32
    %7 = arith.mulf %6, %5 : f32
    %8 = arith.addf %acc, %7 : f32
    linalg.yield %8 : f32
  }
  return
}

// -----

// A linear layer whose weight is in the arena: the weight ([N, K], k
// fastest) is copied ahead with cp.async, the activations (an argument)
// staged element by element in step.
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @linear_from_the_arena
// CHECK: gpu.launch {{.*}} workgroup(%{{.*}} : memref<64x40xbf16, #gpu.address_space<workgroup>>, %{{.*}} : memref<96x40xbf16, #gpu.address_space<workgroup>>)
// CHECK: scf.for
// CHECK: nvgpu.device_async_copy %{{.*}} : memref<96x64xbf16> to memref<96x40xbf16, #gpu.address_space<workgroup>>
// CHECK: memref.load %arg1[
// CHECK-COUNT-8: nvvm.mma.sync
func.func @linear_from_the_arena(%arena: memref<?xi8>, %a: memref<?x64xbf16>, %c: memref<?x96xf32>) {
  %c64 = arith.constant 64 : index
  %b = memref.view %arena[%c64][] : memref<?xi8> to memref<96x64xbf16>
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<?x64xbf16>, memref<96x64xbf16>) outs(%c : memref<?x96xf32>) {
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

// A linear layer as the bf16 graphs bufferize: C zero-filled, the product,
// then the rounding to bf16 as the only reader of C. The kernel starts its
// accumulators at zero (no fill, no read of C) and stores the rounded value
// straight to the bf16 result, where the rounding was.
#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#e = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// C, neither read nor written, is not allocated.
// CHECK-LABEL: func.func @linear_epilogue
// CHECK-SAME: (%[[A:.*]]: memref<?x16x512xbf16>, %[[B:.*]]: memref<64x512xbf16>)
// CHECK-NOT: linalg.fill
// CHECK-NOT: memref<?x16x64xf32>
// CHECK: %[[D:.*]] = memref.alloc
// CHECK: gpu.launch
// CHECK: arith.constant 0.000000e+00 : f32
// CHECK: nvvm.mma.sync
// CHECK: %[[R:.*]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK-NEXT: memref.store %[[R]], %[[D]][
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// CHECK-NOT: memref.dealloc
// CHECK: return %[[D]]
func.func @linear_epilogue(%a: memref<?x16x512xbf16>, %b: memref<64x512xbf16>) -> memref<?x16x64xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %a, %c0 : memref<?x16x512xbf16>
  %c = memref.alloc(%n) : memref<?x16x64xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16x64xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<?x16x512xbf16>, memref<64x512xbf16>) outs(%c : memref<?x16x64xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  %d = memref.alloc(%n) : memref<?x16x64xbf16>
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c : memref<?x16x64xf32>) outs(%d : memref<?x16x64xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %0 = arith.truncf %in : f32 to bf16
    linalg.yield %0 : bf16
  }
  memref.dealloc %c : memref<?x16x64xf32>
  return %d : memref<?x16x64xbf16>
}

// -----

// Zeros copied from a shared zero-filled buffer (as bufferization reuses
// one fill for several products): the copy goes, and the fill with it once
// nothing else reads it. A reader of C besides the elementwise one keeps C
// written and the epilogue out; the read of a per-row value through a
// broadcast map does not matter.
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
#e = affine_map<(d0, d1) -> (d0, d1)>
#r = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @copied_zeros
// CHECK-NOT: linalg.fill
// CHECK-NOT: linalg.copy
// CHECK: gpu.launch
// CHECK-NOT: memref.load %alloc_0[
// CHECK: nvvm.mma.sync
// CHECK: memref.store %{{.*}}, %alloc_0[
// CHECK: gpu.terminator
// CHECK: linalg.generic {{.*}} ins(%alloc_0, %arg2 : memref<32x64xf32>, memref<32xf32>)
// CHECK: linalg.generic {{.*}} ins(%alloc_0 : memref<32x64xf32>)
func.func @copied_zeros(%a: memref<32x128xbf16>, %b: memref<64x128xbf16>, %s: memref<32xf32>, %d: memref<32x64xf32>, %t: memref<32x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %z = memref.alloc() : memref<32x64xf32>
  linalg.fill ins(%zero : f32) outs(%z : memref<32x64xf32>)
  %c = memref.alloc() : memref<32x64xf32>
  linalg.copy ins(%z : memref<32x64xf32>) outs(%c : memref<32x64xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<32x128xbf16>, memref<64x128xbf16>) outs(%c : memref<32x64xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#e, #r, #e], iterator_types = ["parallel", "parallel"]}
      ins(%c, %s : memref<32x64xf32>, memref<32xf32>) outs(%d : memref<32x64xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<32x64xf32>) outs(%t : memref<32x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.negf %in : f32
    linalg.yield %0 : f32
  }
  memref.dealloc %c : memref<32x64xf32>
  memref.dealloc %z : memref<32x64xf32>
  return
}

// -----

// What C held is not known (the caller's buffer, no fill in sight): the
// kernel reads it and adds the product onto it.
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @accumulates_onto_c
// CHECK: gpu.launch
// CHECK: memref.load %arg2[
// CHECK: nvvm.mma.sync
// CHECK: memref.store %{{.*}}, %arg2[
func.func @accumulates_onto_c(%a: memref<32x128xbf16>, %b: memref<64x128xbf16>, %c: memref<32x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<32x64xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<32x128xbf16>, memref<64x128xbf16>) outs(%c : memref<32x64xf32>) {
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

// The elementwise reader writes over the product's own input: other blocks
// may still be reading that input, so it stays a kernel of its own (the
// zero fill still folds).
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
#e = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @writes_over_its_input
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %alloc[
// CHECK: gpu.terminator
// CHECK: linalg.generic {{.*}} ins(%alloc : memref<64x64xf32>) outs(%arg0 : memref<64x64xbf16>)
func.func @writes_over_its_input(%a: memref<64x64xbf16>, %b: memref<64x64xbf16>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<64x64xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<64x64xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<64x64xbf16>, memref<64x64xbf16>) outs(%c : memref<64x64xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<64x64xf32>) outs(%a : memref<64x64xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %0 = arith.truncf %in : f32 to bf16
    linalg.yield %0 : bf16
  }
  memref.dealloc %c : memref<64x64xf32>
  return
}

// -----

// Between the product and its reader, the reader's other input is made (a
// per-row flag cast to f32, reshaped through a shape buffer): the kernel
// goes after those ops, the epilogue multiplies by the flag.
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
#e = affine_map<(d0, d1) -> (d0, d1)>
#v = affine_map<(d0) -> (d0)>
#r = affine_map<(d0, d1) -> (d0, 0)>
// CHECK-LABEL: func.func @epilogue_after_its_inputs
// CHECK: linalg.generic {{.*}} ins(%arg2 : memref<32xi1>) outs(%[[F:.*]] : memref<32xf32>)
// CHECK: %[[S:.*]] = memref.reshape %[[F]]
// CHECK: gpu.launch
// CHECK: nvvm.mma.sync
// CHECK: memref.load %[[S]][%{{.*}}, %c0{{.*}}] : memref<32x1xf32>
// CHECK: arith.mulf
// CHECK: memref.store %{{.*}}, %arg3[
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @epilogue_after_its_inputs(%a: memref<32x128xbf16>, %b: memref<64x128xbf16>, %flag: memref<32xi1>, %d: memref<32x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c = memref.alloc() : memref<32x64xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<32x64xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<32x128xbf16>, memref<64x128xbf16>) outs(%c : memref<32x64xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  %f = memref.alloc() : memref<32xf32>
  linalg.generic {indexing_maps = [#v, #v], iterator_types = ["parallel"]}
      ins(%flag : memref<32xi1>) outs(%f : memref<32xf32>) {
  ^bb0(%in: i1, %out: f32):
    %0 = arith.select %in, %one, %zero : f32
    linalg.yield %0 : f32
  }
  %shape = memref.alloc() : memref<2xindex>
  memref.store %c32, %shape[%c0] : memref<2xindex>
  memref.store %c1, %shape[%c1] : memref<2xindex>
  %s = memref.reshape %f(%shape) : (memref<32xf32>, memref<2xindex>) -> memref<32x1xf32>
  linalg.generic {indexing_maps = [#e, #r, #e], iterator_types = ["parallel", "parallel"]}
      ins(%c, %s : memref<32x64xf32>, memref<32x1xf32>) outs(%d : memref<32x64xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    linalg.yield %0 : f32
  }
  memref.dealloc %c : memref<32x64xf32>
  return
}

// -----

// An op between the product and its reader writes the product's operand:
// the product cannot wait for it, so the reader stays a kernel.
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
#e = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @operand_written_between
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %alloc[
// CHECK: gpu.terminator
// CHECK: linalg.fill ins(%{{.*}} : bf16) outs(%arg0 : memref<32x128xbf16>)
// CHECK: linalg.generic {{.*}} ins(%alloc : memref<32x64xf32>)
func.func @operand_written_between(%a: memref<32x128xbf16>, %b: memref<64x128xbf16>, %d: memref<32x64xbf16>) {
  %zero = arith.constant 0.0 : f32
  %zb = arith.constant 0.0 : bf16
  %c = memref.alloc() : memref<32x64xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<32x64xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<32x128xbf16>, memref<64x128xbf16>) outs(%c : memref<32x64xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.fill ins(%zb : bf16) outs(%a : memref<32x128xbf16>)
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<32x64xf32>) outs(%d : memref<32x64xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %0 = arith.truncf %in : f32 to bf16
    linalg.yield %0 : bf16
  }
  memref.dealloc %c : memref<32x64xf32>
  return
}

// -----

// The LM head as bufferization leaves it: the softcap overwrites C in place,
// and C is read again afterwards (statistics, top-k). The kernel stores the
// softcapped value into C; the later reader is untouched.
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
#e = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func.func @in_place_epilogue
// CHECK: gpu.launch
// CHECK: nvvm.mma.sync
// CHECK: math.tanh
// CHECK: memref.store %{{.*}}, %alloc[
// CHECK: gpu.terminator
// CHECK-NOT: math.tanh
// CHECK: linalg.generic {{.*}} ins(%alloc : memref<32x64xf32>) outs(%arg2 : memref<32x64xf32>)
// CHECK-NOT: math.tanh
func.func @in_place_epilogue(%a: memref<32x128xbf16>, %b: memref<64x128xbf16>, %t: memref<32x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<32x64xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<32x64xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<32x128xbf16>, memref<64x128xbf16>) outs(%c : memref<32x64xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<32x64xf32>) outs(%c : memref<32x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = math.tanh %in : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<32x64xf32>) outs(%t : memref<32x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.negf %in : f32
    linalg.yield %0 : f32
  }
  memref.dealloc %c : memref<32x64xf32>
  return
}

// -----

// Activations in a fresh allocation (rows of 64 bf16, k fastest) are copied
// ahead with cp.async too, into their own ring; with the weights also in the
// arena, both operands of a tile travel in one group and nothing is staged
// in step. A weight that is an argument is staged in step, in one buffer.
#x = affine_map<(d0, d1, d2) -> (d0, d2)>
#w = affine_map<(d0, d1, d2) -> (d1, d2)>
#y = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @linear_both_ahead
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: %[[W:.*]] = memref.view
// CHECK: gpu.launch {{.*}} workgroup(%[[SA:.*]] : memref<192x40xbf16, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<96x40xbf16, #gpu.address_space<workgroup>>)
// CHECK: nvgpu.device_async_copy %[[A]][%{{.*}}, %{{.*}}], %[[SA]]
// CHECK: nvgpu.device_async_copy %[[W]][%{{.*}}, %{{.*}}], %[[SB]]
// CHECK: nvgpu.device_async_create_group
// CHECK: scf.for
// CHECK-NOT: memref.store
// CHECK: nvgpu.device_async_wait
// CHECK-COUNT-8: nvvm.mma.sync
func.func @linear_both_ahead(%arena: memref<?xi8>, %c: memref<256x96xf32>) {
  %c64 = arith.constant 64 : index
  %a = memref.alloc() : memref<256x64xbf16>
  %b = memref.view %arena[%c64][] : memref<?xi8> to memref<96x64xbf16>
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<256x64xbf16>, memref<96x64xbf16>) outs(%c : memref<256x96xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  return
}

// CHECK-LABEL: func.func @linear_rows_ahead
// CHECK: gpu.launch {{.*}} workgroup(%[[SA:.*]] : memref<192x40xbf16, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<32x40xbf16, #gpu.address_space<workgroup>>)
// CHECK: nvgpu.device_async_copy %{{.*}}, %[[SA]]
// CHECK: scf.for
// CHECK: nvgpu.device_async_copy %{{.*}}, %[[SA]]
// CHECK: memref.load %arg0[
// CHECK: memref.store %{{.*}}, %[[SB]]
// CHECK-COUNT-8: nvvm.mma.sync
func.func @linear_rows_ahead(%w: memref<96x64xbf16>, %c: memref<256x96xf32>) {
  %a = memref.alloc() : memref<256x64xbf16>
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : memref<256x64xbf16>, memref<96x64xbf16>) outs(%c : memref<256x96xf32>) {
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

// The self-conditioning's soft embedding, probabilities times the
// embedding table: the weight's rows run along n, so B is staged [k][n].
// Both are fetched ahead with cp.async, B's ring slots tileK rows of the
// tile's columns each, read back by transposing ldmatrix loads.
#p = affine_map<(d0, d1, d2) -> (d0, d2)>
#t = affine_map<(d0, d1, d2) -> (d2, d1)>
#s = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @soft_embedding
// CHECK: %[[P:.*]] = memref.alloc
// CHECK: %[[E:.*]] = memref.view
// CHECK: gpu.launch {{.*}} workgroup(%[[SA:.*]] : memref<192x40xbf16, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<96x40xbf16, #gpu.address_space<workgroup>>)
// CHECK: nvgpu.device_async_copy %[[P]][%{{.*}}, %{{.*}}], %[[SA]]
// CHECK: nvgpu.device_async_copy %[[E]][%{{.*}}, %{{.*}}], %[[SB]]
// CHECK: nvgpu.device_async_create_group
// CHECK: scf.for
// CHECK-NOT: memref.store
// CHECK: nvgpu.device_async_wait
// CHECK: nvgpu.ldmatrix %[[SB]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = true}
// CHECK-COUNT-2: nvvm.mma.sync
func.func @soft_embedding(%arena: memref<?xi8>, %c: memref<256x64xf32>) {
  %c64 = arith.constant 64 : index
  %p = memref.alloc() : memref<256x512xbf16>
  %e = memref.view %arena[%c64][] : memref<?xi8> to memref<512x64xbf16>
  linalg.generic {indexing_maps = [#p, #t, #s], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%p, %e : memref<256x512xbf16>, memref<512x64xbf16>) outs(%c : memref<256x64xf32>) {
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

// Attention values, P V: V's k (the key) runs down its rows, so B is staged
// [k][n] in one buffer (not fetched ahead) and its fragments come from
// transposing ldmatrix loads.
#p = affine_map<(b, h, t, d, s) -> (b, h, t, s)>
#v = affine_map<(b, h, t, d, s) -> (b, h, s, d)>
#o = affine_map<(b, h, t, d, s) -> (b, h, t, d)>
// CHECK-LABEL: func.func @attention_values
// CHECK: gpu.launch {{.*}} workgroup(%[[SA:.*]] : memref<64x40xbf16, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<32x40xbf16, #gpu.address_space<workgroup>>)
// CHECK-NOT: nvgpu.device_async_copy
// CHECK: nvgpu.ldmatrix %[[SA]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = false}
// CHECK: nvgpu.ldmatrix %[[SB]][%{{.*}}, %{{.*}}] {numTiles = 4 : i32, transpose = true} : memref<32x40xbf16, #gpu.address_space<workgroup>> -> vector<4x2xbf16>
// CHECK-COUNT-2: nvvm.mma.sync
func.func @attention_values(%p: memref<?x4x16x?xbf16>, %v: memref<?x4x?x32xbf16>, %o: memref<?x4x16x32xf32>) {
  linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%p, %v : memref<?x4x16x?xbf16>, memref<?x4x?x32xbf16>) outs(%o : memref<?x4x16x32xf32>) {
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

// An output of 16384 columns or more (the LM head) takes 128 x 64 tiles:
// each warp owns 32 x 64 of C (2 x 8 m16n8 accumulators, 64 a lane), so per
// 16 of K it loads two A fragments (rows r and r + 16 of the warp's) and
// four of B, and issues 16 mma.sync. Both operands are aligned, so the
// three-stage rings hold 3 x 128 rows of A and 3 x 64 of B.
#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @wide
// CHECK: %[[ROWTILES:.*]] = arith.ceildivui %{{.*}}, %c128
// CHECK: %[[COLTILES:.*]] = arith.ceildivui %{{.*}}, %c64
// CHECK: gpu.launch blocks(%[[BX:[^,]*]], %[[BY:[^,]*]], %{{[^)]*}}) in (%{{[^ ]*}} = %[[ROWTILES]], %{{[^ ]*}} = %[[COLTILES]], %{{[^)]*}}) threads({{.*}}) in ({{.*}} = %c128{{.*}}, {{.*}}) workgroup(%[[SA:.*]] : memref<384x40xbf16, #gpu.address_space<workgroup>>, %[[SB:.*]] : memref<192x40xbf16, #gpu.address_space<workgroup>>)
// CHECK-DAG: arith.muli %[[BX]], %c128
// CHECK-DAG: arith.muli %[[BY]], %c64
// CHECK: %{{.*}}:64 = scf.for
// CHECK: nvgpu.device_async_wait %{{.*}} {numGroups = 2 : i32}
// CHECK: gpu.barrier
// CHECK: %[[COL:.*]] = arith.addi %{{.*}}, %c0{{.*}} : index
// CHECK-NEXT: arith.constant 0 : index
// CHECK-NEXT: %[[AT:.*]] = arith.addi %[[BASE:.*]], %c0{{.*}} : index
// CHECK-NEXT: nvgpu.ldmatrix %[[SA]][%[[AT]], %[[COL]]]
// CHECK: %[[AT16:.*]] = arith.addi %[[BASE]], %c16{{.*}} : index
// CHECK-NEXT: nvgpu.ldmatrix %[[SA]][%[[AT16]], %{{.*}}]
// CHECK: nvgpu.ldmatrix %[[SB]]
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[SB]]
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[SB]]
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK: nvgpu.ldmatrix %[[SB]]
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK-COUNT-2: nvgpu.ldmatrix %[[SA]]
// CHECK-COUNT-16: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.barrier
// CHECK-COUNT-64: memref.store %{{.*}} : memref<1x256x16384xf32>
// CHECK-NOT: memref.store %{{.*}} : memref<1x256x16384xf32>
func.func @wide(%arena: memref<?xi8>, %c: memref<1x256x16384xf32>) {
  %c0 = arith.constant 0 : index
  %a = memref.alloc() : memref<1x256x64xbf16>
  %b = memref.view %arena[%c0][] : memref<?xi8> to memref<16384x64xbf16>
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<1x256x64xbf16>, memref<16384x64xbf16>) outs(%c : memref<1x256x16384xf32>) {
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

// One column fewer than the wide tile's threshold keeps the 64 x 32 tile.
#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @narrower
// CHECK: arith.ceildivui %{{.*}}, %c64
// CHECK: arith.ceildivui %{{.*}}, %c32
// CHECK: %{{.*}}:16 = scf.for
func.func @narrower(%arena: memref<?xi8>, %c: memref<1x256x16383xf32>) {
  %c0 = arith.constant 0 : index
  %a = memref.alloc() : memref<1x256x64xbf16>
  %b = memref.view %arena[%c0][] : memref<?xi8> to memref<16383x64xbf16>
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<1x256x64xbf16>, memref<16383x64xbf16>) outs(%c : memref<1x256x16383xf32>) {
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

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#e = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#r = affine_map<(d0, d1, d2) -> (d0, d1)>

// The sampler's head as convert-dg-to-linalg leaves it for bf16 logits: the
// product C is read by the rounding to bf16 and by the row statistics
// (#dg.row_statistics), each applying the temperature. Both fold into the
// kernel, which never writes C: its buffer goes. Each block folds its rows'
// statistics over its 32 columns, lanes merging with shuffles, into
// partials of 16 column tiles, which a reduction still marked for
// dg-gpu-block-reductions merges into the statistics' outputs.
// The draw over the rounded logits (a best-of-rows of each logit plus its
// noise from the row's seed) folds in the same way, from the epilogue's
// value; an elementwise reader of the logits stays as it is.
// CHECK-LABEL: func.func @sampling_head
// CHECK-SAME: %[[T:[^:]*]]: memref<?x16xf32>, %[[LOGITS:[^:]*]]: memref<?x16x512xbf16>, %[[M:[^:]*]]: memref<?x16xf32>, %[[S:[^:]*]]: memref<?x16xf32>, %[[U:[^:]*]]: memref<?x16xf32>, %[[I:[^:]*]]: memref<?x16xi32>, %[[SEEDS:[^:]*]]: memref<?x16xi32>, %[[DV:[^:]*]]: memref<?x16xf32>, %[[DI:[^:]*]]: memref<?x16xi32>, %[[PROBS:[^:]*]]: memref<?x16x512xf32>)
// CHECK-NOT: memref.alloc
// CHECK: %[[P0:.*]] = gpu.alloc  host_shared (%{{.*}}) : memref<?x16x16xf32>
// CHECK: %[[P1:.*]] = gpu.alloc  host_shared (%{{.*}}) : memref<?x16x16xf32>
// CHECK: %[[P2:.*]] = gpu.alloc  host_shared (%{{.*}}) : memref<?x16x16xf32>
// CHECK: %[[P3:.*]] = gpu.alloc  host_shared (%{{.*}}) : memref<?x16x16xi32>
// CHECK: %[[Q0:.*]] = gpu.alloc  host_shared (%{{.*}}) : memref<?x16x16xf32>
// CHECK: %[[Q1:.*]] = gpu.alloc  host_shared (%{{.*}}) : memref<?x16x16xi32>
// CHECK: gpu.launch
// CHECK: nvvm.mma.sync
// Each element's value is made once for its store and the folds, which
// read a row's temperature and seed; a lane past the last row reads the
// last row's.
// CHECK: %[[INSIDE:.*]] = arith.cmpi ult, %[[ROW:.*]], %[[ROWS:.*]] : index
// CHECK: %[[LAST:.*]] = arith.subi %[[ROWS]], %c1
// CHECK: %[[SAFE:.*]] = arith.select %[[INSIDE]], %[[ROW]], %[[LAST]] : index
// CHECK: %[[TR:.*]] = arith.divui %[[SAFE]], %{{.*}}
// CHECK: memref.load %[[T]][%[[TR]],
// CHECK: arith.truncf
// CHECK: math.exp
// CHECK: memref.load %[[SEEDS]][
// CHECK: memref.store %{{.*}}, %[[LOGITS]][
// CHECK: gpu.shuffle  xor
// CHECK: memref.store %{{.*}}, %[[P0]][
// CHECK: memref.store %{{.*}}, %[[P1]][
// CHECK: memref.store %{{.*}}, %[[P2]][
// CHECK: memref.store %{{.*}}, %[[P3]][
// CHECK: memref.store %{{.*}}, %[[Q0]][
// CHECK: memref.store %{{.*}}, %[[Q1]][
// CHECK: gpu.terminator
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[P0]], %[[P1]], %[[P2]], %[[P3]] : {{.*}}) outs(%[[M]], %[[S]], %[[U]], %[[I]] : {{.*}}) attrs = {dg.contract = #dg.row_statistics}
// CHECK: gpu.dealloc async {{.*}} %[[P0]]
// CHECK: linalg.generic {{.*}} ins(%[[LOGITS]] : memref<?x16x512xbf16>) outs(%[[PROBS]] :
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[Q0]], %[[Q1]] : {{.*}}) outs(%[[DV]], %[[DI]] : {{.*}}) attrs = {dg.contract = #dg.best_of_rows}
// CHECK-NOT: memref<?x16x512xf32>)
// CHECK: return
func.func @sampling_head(%h: memref<?x16x64xbf16>, %emb: memref<512x64xbf16>, %t: memref<?x16xf32>, %logits: memref<?x16x512xbf16>, %m: memref<?x16xf32>, %s: memref<?x16xf32>, %u: memref<?x16xf32>, %i: memref<?x16xi32>, %seeds: memref<?x16xi32>, %dv: memref<?x16xf32>, %di: memref<?x16xi32>, %probs: memref<?x16x512xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %h, %c0 : memref<?x16x64xbf16>
  %c = memref.alloc(%n) : memref<?x16x512xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16x512xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%h, %emb : memref<?x16x64xbf16>, memref<512x64xbf16>) outs(%c : memref<?x16x512xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#e, #r, #e], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c, %t : memref<?x16x512xf32>, memref<?x16xf32>) outs(%logits : memref<?x16x512xbf16>) {
  ^bb0(%in: f32, %temp: f32, %out: bf16):
    %0 = arith.divf %in, %temp : f32
    %1 = arith.truncf %0 : f32 to bf16
    linalg.yield %1 : bf16
  }
  // A shortened body: the max, a sum of exponentials against it, the argmax.
  linalg.generic {indexing_maps = [#e, #r, #r, #r, #r, #r], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%c, %t : memref<?x16x512xf32>, memref<?x16xf32>) outs(%m, %s, %u, %i : memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?x16xi32>) attrs = {dg.contract = #dg.row_statistics} {
  ^bb0(%in: f32, %temp: f32, %om: f32, %os: f32, %ou: f32, %oi: i32):
    %x = arith.divf %in, %temp : f32
    %j = linalg.index 2 : index
    %ji = arith.index_cast %j : index to i32
    %mx = arith.maximumf %om, %x : f32
    %better = arith.cmpf ogt, %x, %om : f32
    %ni = arith.select %better, %ji, %oi : i32
    %d = arith.subf %x, %mx : f32
    %ex = math.exp %d : f32
    %ns = arith.addf %os, %ex : f32
    linalg.yield %mx, %ns, %ou, %ni : f32, f32, f32, i32
  }
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%logits : memref<?x16x512xbf16>) outs(%probs : memref<?x16x512xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    linalg.yield %0 : f32
  }
  // A shortened draw: the logit plus a noise made from the seed and index.
  linalg.generic {indexing_maps = [#e, #r, #r, #r], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%logits, %seeds : memref<?x16x512xbf16>, memref<?x16xi32>) outs(%dv, %di : memref<?x16xf32>, memref<?x16xi32>) attrs = {dg.contract = #dg.best_of_rows} {
  ^bb0(%in: bf16, %seed: i32, %ov: f32, %oi: i32):
    %j = linalg.index 2 : index
    %ji = arith.index_cast %j : index to i32
    %h0 = arith.xori %seed, %ji : i32
    %noise = arith.uitofp %h0 : i32 to f32
    %x = arith.extf %in : bf16 to f32
    %v = arith.addf %x, %noise : f32
    %better = arith.cmpf ogt, %v, %ov : f32
    %nv = arith.select %better, %v, %ov : f32
    %ni = arith.select %better, %ji, %oi : i32
    linalg.yield %nv, %ni : f32, i32
  }
  memref.dealloc %c : memref<?x16x512xf32>
  return
}

// -----

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#e = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#r = affine_map<(d0, d1, d2) -> (d0, d1)>

// Not folded: the temperatures the statistics read are rewritten after the
// rounding, so the kernel (where the rounding was) would read them too
// early. C is written, and the statistics read it.
// CHECK-LABEL: func.func @statistics_input_rewritten
// CHECK: %[[C:.*]] = memref.alloc(%{{.*}}) : memref<?x16x512xf32>
// CHECK: gpu.launch
// CHECK-NOT: gpu.shuffle
// CHECK: memref.store %{{.*}}, %[[C]][
// CHECK: gpu.terminator
// CHECK: linalg.generic {{.*}} ins(%[[C]] : memref<?x16x512xf32>) outs(
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}} ins(%[[C]], %{{.*}} : memref<?x16x512xf32>, memref<?x16xf32>) {{.*}} attrs = {dg.contract = #dg.row_statistics}
func.func @statistics_input_rewritten(%h: memref<?x16x64xbf16>, %emb: memref<512x64xbf16>, %t: memref<?x16xf32>, %logits: memref<?x16x512xbf16>, %m: memref<?x16xf32>, %s: memref<?x16xf32>, %u: memref<?x16xf32>, %i: memref<?x16xi32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : f32
  %n = memref.dim %h, %c0 : memref<?x16x64xbf16>
  %c = memref.alloc(%n) : memref<?x16x512xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16x512xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%h, %emb : memref<?x16x64xbf16>, memref<512x64xbf16>) outs(%c : memref<?x16x512xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c : memref<?x16x512xf32>) outs(%logits : memref<?x16x512xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %1 = arith.truncf %in : f32 to bf16
    linalg.yield %1 : bf16
  }
  linalg.fill ins(%one : f32) outs(%t : memref<?x16xf32>)
  linalg.generic {indexing_maps = [#e, #r, #r, #r, #r, #r], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%c, %t : memref<?x16x512xf32>, memref<?x16xf32>) outs(%m, %s, %u, %i : memref<?x16xf32>, memref<?x16xf32>, memref<?x16xf32>, memref<?x16xi32>) attrs = {dg.contract = #dg.row_statistics} {
  ^bb0(%in: f32, %temp: f32, %om: f32, %os: f32, %ou: f32, %oi: i32):
    %x = arith.divf %in, %temp : f32
    %mx = arith.maximumf %om, %x : f32
    linalg.yield %mx, %os, %ou, %oi : f32, f32, f32, i32
  }
  memref.dealloc %c : memref<?x16x512xf32>
  return
}

// -----

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#e = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#g = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#m = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// The sampler's candidates start from the max of each group of columns of
// the rounded logits (#dg.column_group_max). Where a group is the kernel's
// tile of columns (32 here), the kernel writes the maxima itself, bf16
// maxima crossing lanes as f32: their buffer is allocated before it and
// their fill goes. Groups of 64 span two tiles and stay as they are.
// CHECK-LABEL: func.func @group_maxima
// CHECK-SAME: %[[LOGITS:[^:]*]]: memref<?x16x512xbf16>)
// CHECK: %[[G32:.*]] = memref.alloc(%{{.*}}) : memref<?x16x16xbf16>
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch
// CHECK: nvvm.mma.sync
// CHECK: memref.store %{{.*}}, %[[LOGITS]][
// CHECK: arith.cmpf ogt, %{{.*}} : bf16
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: gpu.shuffle  xor %{{.*}} : f32
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: memref.store %{{.*}}, %[[G32]][
// CHECK: gpu.terminator
// CHECK-NOT: %[[G32]]
// CHECK-NOT: memref<?x16x16x32xbf16>
// CHECK: %[[V64:.*]] = memref.expand_shape %[[LOGITS]] {{.*}} into memref<?x16x8x64xbf16>
// CHECK-NOT: %[[G32]]
// CHECK: %[[G64:.*]] = memref.alloc(%{{.*}}) : memref<?x16x8xbf16>
// CHECK: linalg.fill ins(%{{.*}}) outs(%[[G64]] :
// CHECK: linalg.generic {{.*}} ins(%[[V64]] : memref<?x16x8x64xbf16>) outs(%[[G64]] : memref<?x16x8xbf16>) attrs = {dg.contract = #dg.column_group_max<group = 64>}
// CHECK: return %[[G32]], %[[G64]]
func.func @group_maxima(%h: memref<?x16x64xbf16>, %emb: memref<512x64xbf16>, %logits: memref<?x16x512xbf16>) -> (memref<?x16x16xbf16>, memref<?x16x8xbf16>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF80 : bf16
  %n = memref.dim %h, %c0 : memref<?x16x64xbf16>
  %c = memref.alloc(%n) : memref<?x16x512xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16x512xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%h, %emb : memref<?x16x64xbf16>, memref<512x64xbf16>) outs(%c : memref<?x16x512xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c : memref<?x16x512xf32>) outs(%logits : memref<?x16x512xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %1 = arith.truncf %in : f32 to bf16
    linalg.yield %1 : bf16
  }
  memref.dealloc %c : memref<?x16x512xf32>
  %v32 = memref.expand_shape %logits [[0], [1], [2, 3]] output_shape [%n, 16, 16, 32] : memref<?x16x512xbf16> into memref<?x16x16x32xbf16>
  %g32 = memref.alloc(%n) : memref<?x16x16xbf16>
  linalg.fill ins(%ninf : bf16) outs(%g32 : memref<?x16x16xbf16>)
  linalg.generic {indexing_maps = [#g, #m], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%v32 : memref<?x16x16x32xbf16>) outs(%g32 : memref<?x16x16xbf16>) attrs = {dg.contract = #dg.column_group_max<group = 32>} {
  ^bb0(%in: bf16, %out: bf16):
    %gt = arith.cmpf ogt, %in, %out : bf16
    %max = arith.select %gt, %in, %out : bf16
    linalg.yield %max : bf16
  }
  %v64 = memref.expand_shape %logits [[0], [1], [2, 3]] output_shape [%n, 16, 8, 64] : memref<?x16x512xbf16> into memref<?x16x8x64xbf16>
  %g64 = memref.alloc(%n) : memref<?x16x8xbf16>
  linalg.fill ins(%ninf : bf16) outs(%g64 : memref<?x16x8xbf16>)
  linalg.generic {indexing_maps = [#g, #m], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%v64 : memref<?x16x8x64xbf16>) outs(%g64 : memref<?x16x8xbf16>) attrs = {dg.contract = #dg.column_group_max<group = 64>} {
  ^bb0(%in: bf16, %out: bf16):
    %gt = arith.cmpf ogt, %in, %out : bf16
    %max = arith.select %gt, %in, %out : bf16
    linalg.yield %max : bf16
  }
  return %g32, %g64 : memref<?x16x16xbf16>, memref<?x16x8xbf16>
}

// -----

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#e = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#g = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#m = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// Not folded: the maxima's buffer is read after the rounding, before the
// maxima are taken, so the kernel (where the rounding was) would write it
// too early.
// CHECK-LABEL: func.func @group_maxima_buffer_read_between
// CHECK-SAME: %[[G:[^:]*]]: memref<?x16x16xbf16>, %[[SAVED:[^:]*]]: memref<?x16x16xbf16>)
// CHECK: gpu.launch
// CHECK-NOT: gpu.shuffle
// CHECK: gpu.terminator
// CHECK: memref.copy %[[G]], %[[SAVED]]
// CHECK: linalg.fill ins(%{{.*}}) outs(%[[G]] :
// CHECK: linalg.generic {{.*}} outs(%[[G]] : memref<?x16x16xbf16>) attrs = {dg.contract = #dg.column_group_max<group = 32>}
func.func @group_maxima_buffer_read_between(%h: memref<?x16x64xbf16>, %emb: memref<512x64xbf16>, %logits: memref<?x16x512xbf16>, %g32: memref<?x16x16xbf16>, %saved: memref<?x16x16xbf16>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF80 : bf16
  %n = memref.dim %h, %c0 : memref<?x16x64xbf16>
  %c = memref.alloc(%n) : memref<?x16x512xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16x512xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%h, %emb : memref<?x16x64xbf16>, memref<512x64xbf16>) outs(%c : memref<?x16x512xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c : memref<?x16x512xf32>) outs(%logits : memref<?x16x512xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %1 = arith.truncf %in : f32 to bf16
    linalg.yield %1 : bf16
  }
  memref.dealloc %c : memref<?x16x512xf32>
  memref.copy %g32, %saved : memref<?x16x16xbf16> to memref<?x16x16xbf16>
  %v32 = memref.expand_shape %logits [[0], [1], [2, 3]] output_shape [%n, 16, 16, 32] : memref<?x16x512xbf16> into memref<?x16x16x32xbf16>
  linalg.fill ins(%ninf : bf16) outs(%g32 : memref<?x16x16xbf16>)
  linalg.generic {indexing_maps = [#g, #m], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%v32 : memref<?x16x16x32xbf16>) outs(%g32 : memref<?x16x16xbf16>) attrs = {dg.contract = #dg.column_group_max<group = 32>} {
  ^bb0(%in: bf16, %out: bf16):
    %gt = arith.cmpf ogt, %in, %out : bf16
    %max = arith.select %gt, %in, %out : bf16
    linalg.yield %max : bf16
  }
  return
}

// -----

#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
#e = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#g = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#m = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>

// Not folded: the maxima go to the buffer the GEMM reads its rows from
// (free once the product is done, as bufferization may reuse it), which
// the kernel would overwrite while other blocks still read it.
// CHECK-LABEL: func.func @group_maxima_over_the_rows
// CHECK-SAME: %[[H:[^:]*]]: memref<?x16x16xbf16>
// CHECK: gpu.launch
// CHECK-NOT: gpu.shuffle
// CHECK: gpu.terminator
// CHECK: linalg.fill ins(%{{.*}}) outs(%[[H]] :
// CHECK: linalg.generic {{.*}} outs(%[[H]] : memref<?x16x16xbf16>) attrs = {dg.contract = #dg.column_group_max<group = 32>}
func.func @group_maxima_over_the_rows(%h: memref<?x16x16xbf16>, %emb: memref<512x16xbf16>, %logits: memref<?x16x512xbf16>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF80 : bf16
  %n = memref.dim %h, %c0 : memref<?x16x16xbf16>
  %c = memref.alloc(%n) : memref<?x16x512xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<?x16x512xf32>)
  linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%h, %emb : memref<?x16x16xbf16>, memref<512x16xbf16>) outs(%c : memref<?x16x512xf32>) {
  ^bb0(%in: bf16, %in_0: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.extf %in_0 : bf16 to f32
    %2 = arith.mulf %0, %1 : f32
    %3 = arith.addf %out, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#e, #e], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%c : memref<?x16x512xf32>) outs(%logits : memref<?x16x512xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %1 = arith.truncf %in : f32 to bf16
    linalg.yield %1 : bf16
  }
  memref.dealloc %c : memref<?x16x512xf32>
  %v32 = memref.expand_shape %logits [[0], [1], [2, 3]] output_shape [%n, 16, 16, 32] : memref<?x16x512xbf16> into memref<?x16x16x32xbf16>
  linalg.fill ins(%ninf : bf16) outs(%h : memref<?x16x16xbf16>)
  linalg.generic {indexing_maps = [#g, #m], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%v32 : memref<?x16x16x32xbf16>) outs(%h : memref<?x16x16xbf16>) attrs = {dg.contract = #dg.column_group_max<group = 32>} {
  ^bb0(%in: bf16, %out: bf16):
    %gt = arith.cmpf ogt, %in, %out : bf16
    %max = arith.select %gt, %in, %out : bf16
    linalg.yield %max : bf16
  }
  return
}
