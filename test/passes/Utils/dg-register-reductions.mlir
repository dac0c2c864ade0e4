// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-register-reductions))" --split-input-file | FileCheck %s
// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-register-reductions{parallel-only=true}))" --split-input-file | FileCheck %s --check-prefix=PARALLEL

// A row's max and its first index (two outputs, linalg.index in the body):
// the rows an scf.parallel, each output loaded once, carried through the
// row by the scf.for, stored once after it.
#row = affine_map<(d0, d1) -> (d0, d1)>
#one = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @argmax
// CHECK-SAME: (%[[X:.*]]: memref<?x8192xf32>, %[[MAX:.*]]: memref<?xf32>, %[[ARG:.*]]: memref<?xi32>)
// CHECK: scf.parallel (%[[R:.*]]) =
// CHECK: %[[M0:.*]] = memref.load %[[MAX]][%[[R]]]
// CHECK: %[[A0:.*]] = memref.load %[[ARG]][%[[R]]]
// CHECK: %[[OUT:.*]]:2 = scf.for %[[J:.*]] = %{{.*}} to %c8192 step %{{.*}} iter_args(%[[M:.*]] = %[[M0]], %[[A:.*]] = %[[A0]]) -> (f32, i32)
// CHECK-NOT: memref.store
// CHECK:   %[[V:.*]] = memref.load %[[X]][%[[R]], %[[J]]]
// CHECK:   arith.index_cast %[[J]] : index to i32
// CHECK:   arith.cmpf ogt, %[[V]], %[[M]]
// CHECK:   scf.yield
// CHECK: memref.store %[[OUT]]#0, %[[MAX]][%[[R]]]
// CHECK: memref.store %[[OUT]]#1, %[[ARG]][%[[R]]]
// CHECK-NOT: linalg.generic
func.func @argmax(%x: memref<?x8192xf32>, %max: memref<?xf32>, %arg: memref<?xi32>) {
  linalg.generic {indexing_maps = [#row, #one, #one], iterator_types = ["parallel", "reduction"]} ins(%x : memref<?x8192xf32>) outs(%max, %arg : memref<?xf32>, memref<?xi32>) {
  ^bb0(%in: f32, %m: f32, %a: i32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i32
    %better = arith.cmpf ogt, %in, %m : f32
    %nm = arith.select %better, %in, %m : f32
    %na = arith.select %better, %ji, %a : i32
    linalg.yield %nm, %na : f32, i32
  }
  return
}

// -----

// A dot product of two vectors (no outer loop): one scf.for, no parallel;
// with parallel-only (the cuda target, where it would run on the host) it
// stays.
#v = affine_map<(d0) -> (d0)>
#s = affine_map<(d0) -> ()>
// CHECK-LABEL: func.func @dot
// CHECK-NOT: scf.parallel
// CHECK: %[[S0:.*]] = memref.load %{{.*}}[] : memref<f32>
// CHECK: %[[S:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[S0]]) -> (f32)
// CHECK: memref.store %[[S]], %{{.*}}[] : memref<f32>
// PARALLEL-LABEL: func.func @dot
// PARALLEL: linalg.generic
func.func @dot(%a: memref<64xf32>, %b: memref<64xf32>, %s: memref<f32>) {
  linalg.generic {indexing_maps = [#v, #v, #s], iterator_types = ["reduction"]} ins(%a, %b : memref<64xf32>, memref<64xf32>) outs(%s : memref<f32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %0 = arith.mulf %x, %y : f32
    %1 = arith.addf %acc, %0 : f32
    linalg.yield %1 : f32
  }
  return
}

// -----

// Left alone: an all-parallel generic; a reduction that is not the
// innermost loop; an output that is also an input; an output that a
// parallel loop of more than one iteration does not index (its element
// would be written by each); a reduction loop that indexes an output.
#row = affine_map<(d0, d1) -> (d0, d1)>
#one = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>
#zero = affine_map<(d0, d1) -> (0)>
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: scf.
// CHECK-COUNT-5: linalg.generic
// CHECK-NOT: scf.
func.func @left_alone(%x: memref<?x64xf32>, %y: memref<?x64xf32>, %cols: memref<64xf32>, %rows: memref<?xf32>, %one: memref<1xf32>) {
  linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel"]} ins(%x : memref<?x64xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.negf %in : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#row, #col], iterator_types = ["reduction", "parallel"]} ins(%x : memref<?x64xf32>) outs(%cols : memref<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %in, %out : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#row, #one, #one], iterator_types = ["parallel", "reduction"]} ins(%x, %rows : memref<?x64xf32>, memref<?xf32>) outs(%rows : memref<?xf32>) {
  ^bb0(%in: f32, %r: f32, %out: f32):
    %0 = arith.addf %in, %r : f32
    %1 = arith.addf %0, %out : f32
    linalg.yield %1 : f32
  }
  linalg.generic {indexing_maps = [#row, #zero], iterator_types = ["parallel", "reduction"]} ins(%x : memref<?x64xf32>) outs(%one : memref<1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %in, %out : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#row, #col], iterator_types = ["parallel", "reduction"]} ins(%x : memref<?x64xf32>) outs(%cols : memref<64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %in, %out : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// The MoE dispatch's count of each expert's rows: one parallel loop (the
// expert) around two reductions (token, choice). The count starts from its
// zero fill, which goes; the two scf.for loops, in linalg's order, carry
// it; it is stored once. A unit parallel loop the output indexes by 0 is
// fine.
#choices = affine_map<(d0, d1, d2) -> (d1, d2)>
#count = affine_map<(d0, d1, d2) -> (d0)>
// CHECK-LABEL: func.func @expert_counts
// CHECK-SAME: (%[[IDS:.*]]: memref<?x8xi32>)
// CHECK-NOT: linalg.fill
// CHECK: %[[COUNTS:.*]] = memref.alloc() : memref<128xi32>
// CHECK: scf.parallel (%[[E:.*]]) =
// CHECK: %[[ZERO:.*]] = arith.constant 0 : i32
// CHECK: %[[N:.*]] = scf.for %[[T:.*]] = {{.*}} iter_args(%[[A:.*]] = %[[ZERO]]) -> (i32)
// CHECK:   %[[M:.*]] = scf.for %[[K:.*]] = {{.*}} to %c8 {{.*}} iter_args(%[[B:.*]] = %[[A]]) -> (i32)
// CHECK-NOT: memref.store
// CHECK:     memref.load %[[IDS]][%[[T]], %[[K]]]
// CHECK:     arith.index_cast %[[E]]
// CHECK:   scf.yield %[[M]]
// CHECK: memref.store %[[N]], %[[COUNTS]][%[[E]]]
// CHECK-NOT: linalg.generic
// CHECK-LABEL: func.func @unit_row
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %c0{{.*}}] : memref<?x1xf32>
// PARALLEL-LABEL: func.func @expert_counts
// PARALLEL: scf.parallel
func.func @expert_counts(%ids: memref<?x8xi32>) -> memref<128xi32> {
  %zero = arith.constant 0 : i32
  %counts = memref.alloc() : memref<128xi32>
  linalg.fill ins(%zero : i32) outs(%counts : memref<128xi32>)
  linalg.generic {indexing_maps = [#choices, #count], iterator_types = ["parallel", "reduction", "reduction"]} ins(%ids : memref<?x8xi32>) outs(%counts : memref<128xi32>) {
  ^bb0(%id: i32, %n: i32):
    %e = linalg.index 0 : index
    %ei = arith.index_cast %e : index to i32
    %hit = arith.cmpi eq, %id, %ei : i32
    %one = arith.extui %hit : i1 to i32
    %sum = arith.addi %n, %one : i32
    linalg.yield %sum : i32
  }
  return %counts : memref<128xi32>
}

#x3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row0 = affine_map<(d0, d1, d2) -> (d0, 0)>
func.func @unit_row(%x: memref<?x1x64xf32>, %s: memref<?x1xf32>) {
  linalg.generic {indexing_maps = [#x3, #row0], iterator_types = ["parallel", "parallel", "reduction"]} ins(%x : memref<?x1x64xf32>) outs(%s : memref<?x1xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.addf %in, %out : f32
    linalg.yield %0 : f32
  }
  return
}
