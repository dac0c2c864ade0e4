// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-host-vector-contractions{vector-registers=32}))" --split-input-file | FileCheck %s
// RUN: not dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-host-vector-contractions{vector-registers=24}))" --split-input-file 2>&1 | FileCheck %s --check-prefix=BAD

// With AVX-512's 32 vector registers (8 lanes still): x W^T in tiles of
// 4 rows x 4 columns, 16 accumulators, then the rows left over one at a time.
#a = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#c = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @projection
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c4{{(_[0-9]+)?}}
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-16: vector.fma
// CHECK: scf.for %{{.*}} = %{{.*}} to %c66{{(_[0-9]+)?}} step %c1{{(_[0-9]+)?}}
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-NOT: linalg.generic
// BAD: vector-registers must be 16 or 32, got 24
func.func @projection(%x: memref<?x66x256xf32>, %w: memref<512x256xf32>, %y: memref<?x66x512xf32>) {
  linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x, %w : memref<?x66x256xf32>, memref<512x256xf32>) outs(%y : memref<?x66x512xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// P V: tiles of 8 rows x 16 columns, 16 accumulators.
#p = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4)>
#v = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d4, d3)>
#o = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @values
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c8{{(_[0-9]+)?}}
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-16: vector.fma
func.func @values(%p: memref<?x4x64x?xf32>, %v: memref<?x4x?x64xf32>, %o: memref<?x4x64x64xf32>) {
  linalg.generic {indexing_maps = [#p, #v, #o], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%p, %v : memref<?x4x64x?xf32>, memref<?x4x?x64xf32>) outs(%o : memref<?x4x64x64xf32>) {
  ^bb0(%in: f32, %in_0: f32, %out: f32):
    %0 = arith.mulf %in, %in_0 : f32
    %1 = arith.addf %out, %0 : f32
    linalg.yield %1 : f32
  }
  return
}
