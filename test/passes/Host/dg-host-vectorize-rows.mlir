// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-host-vectorize-rows))" --split-input-file | FileCheck %s

// A softmax's exponentials, written in place: the rows an scf.parallel,
// each row 8 lanes at a time (the row's max and sum read once and
// broadcast), then the last elements one at a time.
#row = affine_map<(d0, d1) -> (d0, d1)>
#one = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @softmax
// CHECK-SAME: (%[[S:.*]]: memref<?x?xf32>, %[[MAX:.*]]: memref<?xf32>, %[[SUM:.*]]: memref<?xf32>)
// CHECK: scf.parallel (%[[R:.*]]) =
// CHECK: %[[FULL:.*]] = arith.subi
// CHECK: scf.for %[[J:.*]] = %{{.*}} to %[[FULL]] step %c8
// CHECK:   %[[X:.*]] = vector.load %[[S]][%[[R]], %[[J]]] : memref<?x?xf32>, vector<8xf32>
// CHECK:   %[[M:.*]] = memref.load %[[MAX]][%[[R]]]
// CHECK:   %[[MV:.*]] = vector.broadcast %[[M]] : f32 to vector<8xf32>
// CHECK:   %[[D:.*]] = arith.subf %[[X]], %[[MV]] : vector<8xf32>
// CHECK:   %[[E:.*]] = math.exp %[[D]] : vector<8xf32>
// CHECK:   arith.divf %[[E]], %{{.*}} : vector<8xf32>
// CHECK:   vector.store %{{.*}}, %[[S]][%[[R]], %[[J]]] : memref<?x?xf32>, vector<8xf32>
// CHECK: scf.for %[[T:.*]] = %[[FULL]] to
// CHECK:   memref.load %[[S]][%[[R]], %[[T]]]
// CHECK:   math.exp %{{.*}} : f32
// CHECK:   memref.store %{{.*}}, %[[S]][%[[R]], %[[T]]]
// CHECK-NOT: linalg.generic
func.func @softmax(%s: memref<?x?xf32>, %max: memref<?xf32>, %sum: memref<?xf32>) {
  linalg.generic {indexing_maps = [#row, #one, #one, #row], iterator_types = ["parallel", "parallel"]} ins(%s, %max, %sum : memref<?x?xf32>, memref<?xf32>, memref<?xf32>) outs(%s : memref<?x?xf32>) {
  ^bb0(%x: f32, %m: f32, %z: f32, %out: f32):
    %0 = arith.subf %x, %m : f32
    %1 = math.exp %0 : f32
    %2 = arith.divf %1, %z : f32
    linalg.yield %2 : f32
  }
  return
}

// -----

// A row max: lanes that start from the output, a last masked step, the
// lanes folded once and stored.
#row = affine_map<(d0, d1) -> (d0, d1)>
#one = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @row_max
// CHECK-SAME: (%[[X:.*]]: memref<?x100xf32>, %[[MAX:.*]]: memref<?xf32>)
// CHECK: scf.parallel (%[[R:.*]]) =
// CHECK: %[[START:.*]] = memref.load %[[MAX]][%[[R]]]
// CHECK: %[[LANES:.*]] = vector.broadcast %[[START]] : f32 to vector<8xf32>
// CHECK: %[[ACC:.*]] = scf.for {{.*}} iter_args(%[[A:.*]] = %[[LANES]]) -> (vector<8xf32>)
// CHECK:   arith.maximumf %[[A]], %{{.*}} : vector<8xf32>
// CHECK: %[[MASK:.*]] = vector.create_mask %{{.*}} : vector<8xi1>
// CHECK: vector.maskedload %[[X]][%[[R]], %{{.*}}], %[[MASK]]
// CHECK: %[[LAST:.*]] = arith.maximumf %[[ACC]]
// CHECK: %[[KEPT:.*]] = arith.select %[[MASK]], %[[LAST]], %[[ACC]]
// CHECK: %[[FOLDED:.*]] = vector.reduction <maximumf>, %[[KEPT]]
// CHECK: memref.store %[[FOLDED]], %[[MAX]][%[[R]]]
func.func @row_max(%x: memref<?x100xf32>, %max: memref<?xf32>) {
  linalg.generic {indexing_maps = [#row, #one], iterator_types = ["parallel", "reduction"]} ins(%x : memref<?x100xf32>) outs(%max : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = arith.maximumf %out, %in : f32
    linalg.yield %0 : f32
  }
  return
}

// -----

// A row sum (the softmax's denominator): lanes that start from zero, a last
// masked step, the lanes folded in order after the output's value.
#row = affine_map<(d0, d1) -> (d0, d1)>
#one = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @row_sum
// CHECK-SAME: (%[[X:.*]]: memref<?x?xf32>, %[[MAX:.*]]: memref<?xf32>, %[[SUM:.*]]: memref<?xf32>)
// CHECK: scf.parallel (%[[R:.*]]) =
// CHECK: %[[START:.*]] = memref.load %[[SUM]][%[[R]]]
// CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<8xf32>
// CHECK-NOT: vector.broadcast %[[START]]
// CHECK: %[[ACC:.*]] = scf.for {{.*}} iter_args(%[[A:.*]] = %[[ZERO]]) -> (vector<8xf32>)
// CHECK:   %[[E:.*]] = math.exp %{{.*}} : vector<8xf32>
// CHECK:   arith.addf %[[A]], %[[E]] : vector<8xf32>
// CHECK: %[[MASK:.*]] = vector.create_mask %{{.*}} : vector<8xi1>
// CHECK: vector.maskedload %[[X]][%[[R]], %{{.*}}], %[[MASK]]
// CHECK: %[[LAST:.*]] = arith.addf %[[ACC]]
// CHECK: %[[KEPT:.*]] = arith.select %[[MASK]], %[[LAST]], %[[ACC]]
// CHECK: %[[FOLDED:.*]] = vector.reduction <add>, %[[KEPT]], %[[START]] : vector<8xf32> into f32
// CHECK: memref.store %[[FOLDED]], %[[SUM]][%[[R]]]
func.func @row_sum(%x: memref<?x?xf32>, %max: memref<?xf32>, %sum: memref<?xf32>) {
  linalg.generic {indexing_maps = [#row, #one, #one], iterator_types = ["parallel", "reduction"]} ins(%x, %max : memref<?x?xf32>, memref<?xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %m: f32, %out: f32):
    %0 = arith.subf %in, %m : f32
    %1 = math.exp %0 : f32
    %2 = arith.addf %out, %1 : f32
    linalg.yield %2 : f32
  }
  return
}

// -----

// Left alone: an i32 sum (only f32 sums are taken); a body with
// linalg.index; an innermost loop that is not the operands' last dimension
// (a transpose); i64 operands.
#row = affine_map<(d0, d1) -> (d0, d1)>
#one = affine_map<(d0, d1) -> (d0)>
#t = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT: vector.
// CHECK-COUNT-4: linalg.generic
// CHECK-NOT: vector.
func.func @left_alone(%x: memref<?x64xi32>, %sum: memref<?xi32>, %y: memref<?x64xf32>, %z: memref<64x64xf32>, %w: memref<64x64xf32>, %i: memref<?x64xi64>, %f: memref<?x64xf32>) {
  linalg.generic {indexing_maps = [#row, #one], iterator_types = ["parallel", "reduction"]} ins(%x : memref<?x64xi32>) outs(%sum : memref<?xi32>) {
  ^bb0(%in: i32, %out: i32):
    %0 = arith.addi %out, %in : i32
    linalg.yield %0 : i32
  }
  linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel"]} ins(%f : memref<?x64xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %0 = linalg.index 1 : index
    %1 = arith.index_cast %0 : index to i32
    %2 = arith.sitofp %1 : i32 to f32
    %3 = arith.addf %in, %2 : f32
    linalg.yield %3 : f32
  }
  linalg.generic {indexing_maps = [#t, #row], iterator_types = ["parallel", "parallel"]} ins(%z : memref<64x64xf32>) outs(%w : memref<64x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    linalg.yield %in : f32
  }
  linalg.generic {indexing_maps = [#row, #row], iterator_types = ["parallel", "parallel"]} ins(%i : memref<?x64xi64>) outs(%i : memref<?x64xi64>) {
  ^bb0(%in: i64, %out: i64):
    %0 = arith.addi %in, %in : i64
    linalg.yield %0 : i64
  }
  return
}
