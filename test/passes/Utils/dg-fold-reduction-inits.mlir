// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-fold-reduction-inits))" --split-input-file | FileCheck %s

// Two reductions whose outputs are copies of one zero fill (as
// bufferization leaves a fill that CSE shared): each becomes its loops,
// storing 0 to its element before the reduction loop; the copies and the
// fill go. An integer count starts from its own fill of -1.
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @constant_starts
// CHECK-SAME: %[[X:[^:]*]]: memref<?x64xf32>, %[[IDS:[^:]*]]: memref<?x64xi32>)
// CHECK-NOT: linalg.fill
// CHECK-NOT: memref.copy
// CHECK: %[[ZEROS:.*]] = memref.alloc
// CHECK: %[[SUM:.*]] = memref.alloc
// CHECK: scf.parallel (%[[I:.*]]) =
// CHECK-NEXT: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: memref.store %[[ZERO]], %[[SUM]][%[[I]]]
// CHECK-NEXT: scf.for %[[J:.*]] =
// CHECK: memref.load %[[X]][
// CHECK: arith.addf
// CHECK: %[[SQ:.*]] = memref.alloc
// CHECK: scf.parallel
// CHECK: memref.store %{{.*}}, %[[SQ]][
// CHECK: scf.for
// CHECK: arith.mulf
// CHECK: %[[LAST:.*]] = memref.alloc
// CHECK: scf.parallel (%[[R:.*]]) =
// CHECK-NEXT: %[[NONE:.*]] = arith.constant -1 : i32
// CHECK-NEXT: memref.store %[[NONE]], %[[LAST]][%[[R]]]
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @constant_starts(%x: memref<?x64xf32>, %ids: memref<?x64xi32>) -> (memref<?xf32>, memref<?xf32>, memref<?xi32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %none = arith.constant -1 : i32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %zeros = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%zeros : memref<?xf32>)
  %sum = memref.alloc(%n) : memref<?xf32>
  memref.copy %zeros, %sum : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %out, %in : f32
    linalg.yield %0 : f32
  }
  %sq = memref.alloc(%n) : memref<?xf32>
  memref.copy %zeros, %sq : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%sq : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.mulf %in, %in : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  memref.dealloc %zeros : memref<?xf32>
  %last = memref.alloc(%n) : memref<?xi32>
  linalg.fill ins(%none : i32) outs(%last : memref<?xi32>)
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%ids : memref<?x64xi32>) outs(%last : memref<?xi32>) {
  ^bb0(%in: i32, %out: i32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i32
    %hit = arith.cmpi sgt, %in, %out : i32
    %0 = arith.select %hit, %ji, %out : i32
    linalg.yield %0 : i32
  }
  return %sum, %sq, %last : memref<?xf32>, memref<?xf32>, memref<?xi32>
}

// -----

// Left alone: an output read between its fill and the reduction, a
// reduction loop before a parallel one, an output the op also reads as an
// input, and a fill feeding an elementwise op.
#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
#first = affine_map<(d0, d1) -> (d1)>
#same = affine_map<(d0) -> (d0)>
// CHECK-LABEL: func.func @left_alone
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[READ:.*]] : memref<?xf32>)
// CHECK: memref.copy %[[READ]], %{{.*}}
// CHECK: linalg.generic {{.*}} outs(%[[READ]] : memref<?xf32>)
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel"]
// CHECK-NOT: scf.parallel
func.func @left_alone(%x: memref<?x64xf32>, %seen: memref<?xf32>, %cols: memref<64xf32>, %e: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x64xf32>
  %read = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%read : memref<?xf32>)
  memref.copy %read, %seen : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [#in, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>) outs(%read : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %out, %in : f32
    linalg.yield %0 : f32
  }
  linalg.fill ins(%zero : f32) outs(%cols : memref<64xf32>)
  linalg.generic {indexing_maps = [#in, #first], iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<?x64xf32>) outs(%cols : memref<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %out, %in : f32
    linalg.yield %0 : f32
  }
  %self = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%self : memref<?xf32>)
  linalg.generic {indexing_maps = [#in, #out, #out], iterator_types = ["parallel", "reduction"]}
      ins(%x, %self : memref<?x64xf32>, memref<?xf32>) outs(%self : memref<?xf32>) {
  ^bb0(%in: f32, %s: f32, %out: f32):
    %0 = arith.addf %out, %s : f32
    linalg.yield %0 : f32
  }
  linalg.fill ins(%zero : f32) outs(%e : memref<?xf32>)
  linalg.generic {indexing_maps = [#same, #same], iterator_types = ["parallel"]}
      ins(%seen : memref<?xf32>) outs(%e : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %out, %in : f32
    linalg.yield %0 : f32
  }
  return
}
