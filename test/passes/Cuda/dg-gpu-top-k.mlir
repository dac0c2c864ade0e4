// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-top-k))" --split-input-file | FileCheck %s
// RUN: not dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-top-k{threads=100}))" --split-input-file 2>&1 | FileCheck %s --check-prefix=THREADS

// THREADS: threads must be a power of two in [32, 1024]

// The top-64 loop convert-dg-to-linalg writes (64 best-of-rows passes over
// each 4096-wide row, after bufferization) becomes one kernel: a block of
// 256 threads per row, a 256-bin histogram, the 64 selected keys and the
// select state in shared memory; up to eight radix passes, each a
// warp-aggregated histogram and thread 0's scan of the bins from the top;
// then the collection and each key's write at its rank.
#map = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func.func @top_k
// CHECK-SAME: (%[[X:.*]]: memref<?x256x4096xf32>)
// CHECK: %[[VALUES:.*]] = memref.alloc({{.*}}) {{.*}} : memref<?x256x64xf32>
// CHECK: %[[INDICES:.*]] = memref.alloc({{.*}}) {{.*}} : memref<?x256x64xi32>
// CHECK-NOT: scf.for
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}}) threads({{.*}}) in ({{.*}} = %c256{{.*}}, {{.*}}) workgroup(%[[HIST:.*]] : memref<256xi32, #gpu.address_space<workgroup>>, %[[KEYS:.*]] : memref<64xi64, #gpu.address_space<workgroup>>, %{{.*}} : memref<2xi64, #gpu.address_space<workgroup>>, %[[STATE:.*]] : memref<3xi32, #gpu.address_space<workgroup>>)
// CHECK: gpu.barrier
// CHECK: scf.for %{{.*}} = %{{.*}} to %c8{{.*}} step
// CHECK:   scf.if
// CHECK:     scf.for
// CHECK:       memref.store %{{.*}}, %[[HIST]]
// CHECK:     gpu.barrier
// CHECK:     scf.for
// CHECK:       memref.load %[[X]]
// CHECK:       arith.bitcast %{{.*}} : f32 to i32
// CHECK:       arith.shli %{{.*}} : i64
// CHECK:       %[[PEERS:.*]] = nvvm.match.sync any %{{.*}} : i32 -> i32
// CHECK:       scf.if
// CHECK:         %[[N:.*]] = math.ctpop %[[PEERS]] : i32
// CHECK:         memref.atomic_rmw addi %[[N]], %[[HIST]]
// CHECK:     gpu.barrier
// CHECK:     scf.if
// CHECK:       scf.for {{.*}} iter_args({{.*}}) -> (i32, i1, i32, i32, i32)
// CHECK:     gpu.barrier
// CHECK: scf.for
// CHECK:   arith.cmpi uge, %{{.*}} : i64
// CHECK:   scf.if
// CHECK:     memref.atomic_rmw addi %{{.*}}, %[[STATE]]
// CHECK:     memref.store %{{.*}}, %[[KEYS]]
// CHECK: gpu.barrier
// CHECK: scf.for
// CHECK:   scf.for {{.*}} -> (index)
// CHECK:     arith.cmpi ugt, %{{.*}} : i64
// CHECK:   memref.load %[[X]]
// CHECK:   memref.store %{{.*}}, %[[VALUES]]
// CHECK:   memref.store %{{.*}}, %[[INDICES]]
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// CHECK-NOT: dg.top_k
// CHECK: return %[[VALUES]], %[[INDICES]]
func.func @top_k(%arg0: memref<?x256x4096xf32>) -> (memref<?x256x64xf32>, memref<?x256x64xi32>) {
  %c2147483647_i32 = arith.constant 2147483647 : i32
  %cst = arith.constant 0xFF800000 : f32
  %c64 = arith.constant 64 : index
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %dim = memref.dim %arg0, %c0 : memref<?x256x4096xf32>
  %alloc = memref.alloc(%dim) {alignment = 64 : i64} : memref<?x256x64xf32>
  %alloc_0 = memref.alloc(%dim) {alignment = 64 : i64} : memref<?x256x64xi32>
  scf.for %arg1 = %c0 to %c64 step %c1 {
    %0 = arith.cmpi eq, %arg1, %c0 : index
    %1 = arith.subi %arg1, %c1 : index
    %2 = arith.select %0, %c0, %1 : index
    %subview = memref.subview %alloc[0, 0, %2] [%dim, 256, 1] [1, 1, 1] : memref<?x256x64xf32> to memref<?x256xf32, strided<[16384, 64], offset: ?>>
    %subview_1 = memref.subview %alloc_0[0, 0, %2] [%dim, 256, 1] [1, 1, 1] : memref<?x256x64xi32> to memref<?x256xi32, strided<[16384, 64], offset: ?>>
    %alloc_2 = memref.alloc(%dim) {alignment = 64 : i64} : memref<?x256xf32>
    linalg.fill ins(%cst : f32) outs(%alloc_2 : memref<?x256xf32>)
    %alloc_3 = memref.alloc(%dim) {alignment = 64 : i64} : memref<?x256xi32>
    linalg.fill ins(%c2147483647_i32 : i32) outs(%alloc_3 : memref<?x256xi32>)
    linalg.generic {indexing_maps = [#map, #map1, #map1, #map1, #map1], iterator_types = ["parallel", "parallel", "reduction"]} ins(%arg0, %subview, %subview_1 : memref<?x256x4096xf32>, memref<?x256xf32, strided<[16384, 64], offset: ?>>, memref<?x256xi32, strided<[16384, 64], offset: ?>>) outs(%alloc_2, %alloc_3 : memref<?x256xf32>, memref<?x256xi32>) attrs =  {dg.contract = #dg.best_of_rows} {
    ^bb0(%in: f32, %in_6: f32, %in_7: i32, %out: f32, %out_8: i32):
      %3 = linalg.index 2 : index
      %4 = arith.index_cast %3 : index to i32
      %5 = arith.cmpi slt, %4, %out_8 : i32
      %6 = arith.cmpf oeq, %in, %out : f32
      %7 = arith.cmpf ogt, %in, %out : f32
      %8 = arith.andi %6, %5 : i1
      %9 = arith.ori %7, %8 : i1
      %10 = arith.cmpi sgt, %4, %in_7 : i32
      %11 = arith.cmpf oeq, %in, %in_6 : f32
      %12 = arith.cmpf olt, %in, %in_6 : f32
      %13 = arith.andi %11, %10 : i1
      %14 = arith.ori %12, %13 : i1
      %15 = arith.ori %0, %14 : i1
      %16 = arith.andi %9, %15 : i1
      %17 = arith.select %16, %in, %out : f32
      %18 = arith.select %16, %4, %out_8 : i32
      linalg.yield %17, %18 : f32, i32
    }
    %subview_4 = memref.subview %alloc[0, 0, %arg1] [%dim, 256, 1] [1, 1, 1] : memref<?x256x64xf32> to memref<?x256xf32, strided<[16384, 64], offset: ?>>
    memref.copy %alloc_2, %subview_4 : memref<?x256xf32> to memref<?x256xf32, strided<[16384, 64], offset: ?>>
    %subview_5 = memref.subview %alloc_0[0, 0, %arg1] [%dim, 256, 1] [1, 1, 1] : memref<?x256x64xi32> to memref<?x256xi32, strided<[16384, 64], offset: ?>>
    memref.copy %alloc_3, %subview_5 : memref<?x256xi32> to memref<?x256xi32, strided<[16384, 64], offset: ?>>
    memref.dealloc %alloc_2 : memref<?x256xf32>
    memref.dealloc %alloc_3 : memref<?x256xi32>
  } {dg.contract = #dg.top_k_loop<k = 64>}
  return %alloc, %alloc_0 : memref<?x256x64xf32>, memref<?x256x64xi32>
}

// -----

// A router's top-2 of 8 bf16 expert scores, written in place: one warp per
// token (whole warps, for match.any.sync), the keys built from f32, the
// values copied back in bf16.
#map = affine_map<(d0, d1) -> (d0, d1)>
#map1 = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @router
// CHECK: gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c32{{.*}}, {{.*}}) workgroup(%{{.*}} : memref<256xi32, #gpu.address_space<workgroup>>, %{{.*}} : memref<2xi64, #gpu.address_space<workgroup>>
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: memref.store %{{.*}}, %arg1[%{{.*}}, %{{.*}}] : memref<16x2xbf16>
// CHECK: memref.store %{{.*}}, %arg2[%{{.*}}, %{{.*}}] : memref<16x2xi32>
// CHECK-NOT: dg.top_k
func.func @router(%x: memref<16x8xbf16>, %v: memref<16x2xbf16>, %i: memref<16x2xi32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  scf.for %j = %c0 to %c2 step %c1 {
    %sv = memref.subview %v[0, %j] [16, 1] [1, 1] : memref<16x2xbf16> to memref<16xbf16, strided<[2], offset: ?>>
    %si = memref.subview %i[0, %j] [16, 1] [1, 1] : memref<16x2xi32> to memref<16xi32, strided<[2], offset: ?>>
    linalg.generic {indexing_maps = [#map, #map1, #map1], iterator_types = ["parallel", "reduction"]} ins(%x : memref<16x8xbf16>) outs(%sv, %si : memref<16xbf16, strided<[2], offset: ?>>, memref<16xi32, strided<[2], offset: ?>>) attrs = {dg.contract = #dg.best_of_rows} {
    ^bb0(%in: bf16, %out: bf16, %out_i: i32):
      linalg.yield %in, %out_i : bf16, i32
    }
  } {dg.contract = #dg.top_k_loop<k = 2>}
  return
}

// -----

// Left alone: an unmarked loop, a row shorter than k, a row of dynamic
// length, and a loop that writes a third buffer.
#map = affine_map<(d0, d1) -> (d0, d1)>
#map1 = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: gpu.launch
// CHECK-COUNT-4: #dg.best_of_rows
// CHECK-NOT: gpu.launch
func.func @left_alone(%x: memref<16x8xf32>, %short: memref<16x2xf32>, %dyn: memref<16x?xf32>,
                      %v: memref<16x4xf32>, %i: memref<16x4xi32>, %w: memref<16x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.for %j = %c0 to %c4 step %c1 {
    %sv = memref.subview %v[0, %j] [16, 1] [1, 1] : memref<16x4xf32> to memref<16xf32, strided<[4], offset: ?>>
    %si = memref.subview %i[0, %j] [16, 1] [1, 1] : memref<16x4xi32> to memref<16xi32, strided<[4], offset: ?>>
    linalg.generic {indexing_maps = [#map, #map1, #map1], iterator_types = ["parallel", "reduction"]} ins(%x : memref<16x8xf32>) outs(%sv, %si : memref<16xf32, strided<[4], offset: ?>>, memref<16xi32, strided<[4], offset: ?>>) attrs = {dg.contract = #dg.best_of_rows} {
    ^bb0(%in: f32, %out: f32, %out_i: i32):
      linalg.yield %in, %out_i : f32, i32
    }
  }
  scf.for %j = %c0 to %c4 step %c1 {
    %sv = memref.subview %v[0, %j] [16, 1] [1, 1] : memref<16x4xf32> to memref<16xf32, strided<[4], offset: ?>>
    %si = memref.subview %i[0, %j] [16, 1] [1, 1] : memref<16x4xi32> to memref<16xi32, strided<[4], offset: ?>>
    linalg.generic {indexing_maps = [#map, #map1, #map1], iterator_types = ["parallel", "reduction"]} ins(%short : memref<16x2xf32>) outs(%sv, %si : memref<16xf32, strided<[4], offset: ?>>, memref<16xi32, strided<[4], offset: ?>>) attrs = {dg.contract = #dg.best_of_rows} {
    ^bb0(%in: f32, %out: f32, %out_i: i32):
      linalg.yield %in, %out_i : f32, i32
    }
  } {dg.contract = #dg.top_k_loop<k = 4>}
  scf.for %j = %c0 to %c4 step %c1 {
    %sv = memref.subview %v[0, %j] [16, 1] [1, 1] : memref<16x4xf32> to memref<16xf32, strided<[4], offset: ?>>
    %si = memref.subview %i[0, %j] [16, 1] [1, 1] : memref<16x4xi32> to memref<16xi32, strided<[4], offset: ?>>
    linalg.generic {indexing_maps = [#map, #map1, #map1], iterator_types = ["parallel", "reduction"]} ins(%dyn : memref<16x?xf32>) outs(%sv, %si : memref<16xf32, strided<[4], offset: ?>>, memref<16xi32, strided<[4], offset: ?>>) attrs = {dg.contract = #dg.best_of_rows} {
    ^bb0(%in: f32, %out: f32, %out_i: i32):
      linalg.yield %in, %out_i : f32, i32
    }
  } {dg.contract = #dg.top_k_loop<k = 4>}
  scf.for %j = %c0 to %c4 step %c1 {
    %sv = memref.subview %v[0, %j] [16, 1] [1, 1] : memref<16x4xf32> to memref<16xf32, strided<[4], offset: ?>>
    %si = memref.subview %i[0, %j] [16, 1] [1, 1] : memref<16x4xi32> to memref<16xi32, strided<[4], offset: ?>>
    linalg.generic {indexing_maps = [#map, #map1, #map1], iterator_types = ["parallel", "reduction"]} ins(%x : memref<16x8xf32>) outs(%sv, %si : memref<16xf32, strided<[4], offset: ?>>, memref<16xi32, strided<[4], offset: ?>>) attrs = {dg.contract = #dg.best_of_rows} {
    ^bb0(%in: f32, %out: f32, %out_i: i32):
      linalg.yield %in, %out_i : f32, i32
    }
    %one = arith.constant 1.0 : f32
    memref.store %one, %w[%c0, %j] : memref<16x4xf32>
  } {dg.contract = #dg.top_k_loop<k = 4>}
  return
}
