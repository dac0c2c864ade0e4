// RUN: dgc-opt %s --pass-pipeline="builtin.module(dg-host-outline-loop-nests)" --split-input-file | FileCheck %s
// RUN: dgc-opt %s --pass-pipeline="builtin.module(dg-host-outline-loop-nests{small-nest-iterations=1})" --split-input-file | FileCheck %s --check-prefix=THRESHOLD

// Each loop nest of a graph becomes a private, internal, never-inlined
// function, called in its place: the memrefs and the index it reads from
// the graph are its arguments, the constants are cloned into it. The
// scalar ops and allocations between nests stay in the graph. Both nests
// are small (8192 and 16 iterations), so optimised for size.
// CHECK-LABEL: func.func private @graph_nest0(
// CHECK-SAME: %[[IN:[^:]*]]: memref<64x128xf32>, %[[OUT:[^:]*]]: memref<64x128xf32>)
// CHECK-SAME: llvm.linkage = #llvm.linkage<internal>
// CHECK-SAME: passthrough = ["noinline", "optsize"]
// CHECK-DAG: %[[TWO:.*]] = arith.constant 2.0
// CHECK-DAG: %[[C64:.*]] = arith.constant 64 : index
// CHECK: scf.parallel
// CHECK: memref.load %[[IN]]
// CHECK: arith.mulf %{{.*}}, %[[TWO]]
// CHECK: memref.store %{{.*}}, %[[OUT]]
// CHECK: return
// CHECK-LABEL: func.func private @graph_nest1(
// CHECK-SAME: %[[ACC:[^:]*]]: f32, %[[SUMS:[^:]*]]: memref<16xf32>, %[[N:[^:]*]]: index) -> f32
// CHECK-SAME: passthrough = ["noinline", "optsize"]
// CHECK: %[[R:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %[[ACC]]) -> (f32)
// CHECK: return %[[R]] : f32
// CHECK-LABEL: func.func @graph(
// CHECK-SAME: %[[X:[^:]*]]: memref<64x128xf32>, %[[N0:[^:]*]]: index)
// CHECK: %[[Y:.*]] = memref.alloc() : memref<64x128xf32>
// CHECK-NEXT: call @graph_nest0(%[[X]], %[[Y]])
// CHECK-NOT: scf.
// CHECK: %[[S:.*]] = call @graph_nest1(%{{.*}}, %{{.*}}, %[[N0]]) : (f32, memref<16xf32>, index) -> f32
// CHECK: memref.store %[[S]]
// CHECK-NOT: scf.
// THRESHOLD-LABEL: func.func private @graph_nest1(
// THRESHOLD-SAME: passthrough = ["noinline"]
func.func @graph(%x: memref<64x128xf32>, %n: index) -> memref<64x128xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  %two = arith.constant 2.0 : f32
  %y = memref.alloc() : memref<64x128xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c64, %c128) step (%c1, %c1) {
    %v = memref.load %x[%i, %j] : memref<64x128xf32>
    %w = arith.mulf %v, %two : f32
    memref.store %w, %y[%i, %j] : memref<64x128xf32>
    scf.reduce
  }
  %sums = memref.alloc() : memref<16xf32>
  %zero = memref.load %sums[%c0] : memref<16xf32>
  %c16 = arith.constant 16 : index
  %total = scf.for %k = %c0 to %c16 step %c1 iter_args(%acc = %zero) -> (f32) {
    %e = memref.load %sums[%k] : memref<16xf32>
    %s = arith.addf %acc, %e : f32
    %m = arith.index_cast %n : index to i32
    %f = arith.sitofp %m : i32 to f32
    %t = arith.addf %s, %f : f32
    scf.yield %t : f32
  }
  memref.store %total, %sums[%c1] : memref<16xf32>
  memref.dealloc %sums : memref<16xf32>
  return %y : memref<64x128xf32>
}

// -----

// Functions already private (a nest outlined before, a helper) and loops
// inside another op stay where they are.
// CHECK-LABEL: func.func private @helper(
// CHECK: scf.for
// CHECK-LABEL: func.func @conditional(
// CHECK: scf.if
// CHECK: scf.for
// CHECK-NOT: call
func.func private @helper(%buffer: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %zero = arith.constant 0.0 : f32
  scf.for %i = %c0 to %c8 step %c1 {
    memref.store %zero, %buffer[%i] : memref<8xf32>
  }
  return
}
func.func @conditional(%buffer: memref<8xf32>, %flag: i1) {
  scf.if %flag {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c8 = arith.constant 8 : index
    %one = arith.constant 1.0 : f32
    scf.for %i = %c0 to %c8 step %c1 {
      memref.store %one, %buffer[%i] : memref<8xf32>
    }
  }
  return
}

// -----

// A large scf.parallel is outlined in chunks of its first loop with a
// constant trip count (the batch loop before it is dynamic): the function
// takes [begin, end) of that loop's iterations first, and the graph passes
// all of them, ceil((64 - 0) / 2) = 32.
// CHECK-LABEL: func.func private @chunked_nest0(
// CHECK-SAME: %[[BEGIN:[^:]*]]: index, %[[END:[^:]*]]: index, %[[B:[^:]*]]: index, %[[X:[^:]*]]: memref<?x64x512xf32>)
// CHECK-SAME: dg.parallel_chunks
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C2:.*]] = arith.constant 2 : index
// CHECK-DAG: %[[C64:.*]] = arith.constant 64 : index
// CHECK: %[[FIRST:.*]] = arith.muli %[[BEGIN]], %[[C2]]
// CHECK: %[[LO:.*]] = arith.addi %[[C0]], %[[FIRST]]
// CHECK: %[[LAST:.*]] = arith.muli %[[END]], %[[C2]]
// CHECK: %[[HI0:.*]] = arith.addi %[[C0]], %[[LAST]]
// CHECK: %[[HI:.*]] = arith.minsi %[[C64]], %[[HI0]]
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) = (%[[C0]], %[[LO]], %[[C0]]) to (%[[B]], %[[HI]], %{{.*}}) step
// CHECK-LABEL: func.func @chunked(
// CHECK: %[[N:.*]] = arith.ceildivsi
// CHECK: call @chunked_nest0(%{{.*}}, %[[N]],
// A parallel loop with results (a reduction) is never chunked.
// CHECK-LABEL: func.func private @reduction_nest0(
// CHECK-NOT: dg.parallel_chunks
// CHECK-SAME: {
func.func @chunked(%x: memref<?x64x512xf32>, %b: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c64 = arith.constant 64 : index
  %c512 = arith.constant 512 : index
  %one = arith.constant 1.0 : f32
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%b, %c64, %c512) step (%c1, %c2, %c1) {
    memref.store %one, %x[%i, %j, %k] : memref<?x64x512xf32>
    scf.reduce
  }
  return
}
func.func @reduction(%x: memref<512x512xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c512 = arith.constant 512 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.parallel (%i, %j) = (%c0, %c0) to (%c512, %c512) step (%c1, %c1) init (%zero) -> f32 {
    %v = memref.load %x[%i, %j] : memref<512x512xf32>
    scf.reduce(%v : f32) {
    ^bb0(%l: f32, %r: f32):
      %s = arith.addf %l, %r : f32
      scf.reduce.return %s : f32
    }
  }
  return %sum : f32
}
