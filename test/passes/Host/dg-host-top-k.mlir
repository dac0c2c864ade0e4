// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-host-top-k))" --split-input-file | FileCheck %s

// The top-64 loop convert-dg-to-linalg writes (64 best-of-rows passes over
// each 4096-wide row, after bufferization) becomes one pass per row, the
// rows an scf.parallel: the first 64 elements by insertion into the
// outputs, then each later element compared with the 64th (carried in a
// register) and, if it beats it, inserted in its place.
// CHECK-LABEL: func.func @top_k
// CHECK-SAME: (%[[X:.*]]: memref<?x256x4096xf32>)
// CHECK: %[[VALUES:.*]] = memref.alloc({{.*}}) {{.*}} : memref<?x256x64xf32>
// CHECK: %[[INDICES:.*]] = memref.alloc({{.*}}) {{.*}} : memref<?x256x64xi32>
// CHECK-NOT: linalg.generic
// CHECK: scf.parallel (%[[B:.*]], %[[R:.*]]) =
// CHECK: scf.for %[[I:.*]] = %{{.*}} to %c64{{.*}} step
// CHECK:   %[[V:.*]] = memref.load %[[X]][%[[B]], %[[R]], %[[I]]]
// CHECK:   %[[AT:.*]] = scf.while (%[[P:.*]] = %[[I]]) : (index) -> index {
// CHECK:     arith.cmpf ugt, %[[V]]
// CHECK:     arith.cmpf ord, %[[V]], %[[V]]
// CHECK:     scf.condition
// CHECK:   } do {
// CHECK:     memref.store %{{.*}}, %[[VALUES]]
// CHECK:     memref.store %{{.*}}, %[[INDICES]]
// CHECK:   memref.store %[[V]], %[[VALUES]][%[[B]], %[[R]], %[[AT]]]
// CHECK:   %[[I32:.*]] = arith.index_cast %[[I]] : index to i32
// CHECK:   memref.store %[[I32]], %[[INDICES]][%[[B]], %[[R]], %[[AT]]]
// CHECK: %[[KTH:.*]] = memref.load %[[VALUES]][%[[B]], %[[R]], %c63{{.*}}]
// CHECK: scf.for %[[J:.*]] = %c64{{.*}} to %c4096{{.*}} step %{{.*}} iter_args(%[[T:.*]] = %[[KTH]]) -> (f32)
// CHECK:   %[[W:.*]] = memref.load %[[X]][%[[B]], %[[R]], %[[J]]]
// CHECK:   %[[ABOVE:.*]] = arith.cmpf ugt, %[[W]], %[[T]]
// CHECK:   scf.if %{{.*}} -> (f32) {
// CHECK:     scf.while
// CHECK:     memref.load %[[VALUES]][%[[B]], %[[R]], %c63{{.*}}]
// CHECK:   } else {
// CHECK:     scf.yield %[[T]]
// CHECK-NOT: dg.top_k
// CHECK: return %[[VALUES]], %[[INDICES]]
#map = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map1 = affine_map<(d0, d1, d2) -> (d0, d1)>
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

// bf16 rows are left to the loop.
#map = affine_map<(d0, d1) -> (d0, d1)>
#map1 = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @router_bf16
// CHECK: scf.for
// CHECK: linalg.generic
// CHECK: #dg.top_k_loop<k = 2>
func.func @router_bf16(%x: memref<16x8xbf16>, %v: memref<16x2xbf16>, %i: memref<16x2xi32>) {
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
