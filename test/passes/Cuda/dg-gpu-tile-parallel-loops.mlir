// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-tile-parallel-loops{threads=128},gpu-map-parallel-loops{mapping-policy=innermost-first},convert-parallel-loops-to-gpu,canonicalize))" | FileCheck %s
// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-tile-parallel-loops{threads=256},gpu-map-parallel-loops{mapping-policy=innermost-first},convert-parallel-loops-to-gpu,canonicalize))" | FileCheck %s --check-prefix=WIDE

// The innermost static dimension fills the block first (64 of 128 threads,
// along x), the next one takes the rest (2, along y), and bounds are checked
// inside rather than clamped, so that the upstream passes map the loops to a
// grid of blocks.
// CHECK-LABEL: func.func @static
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c1, {{.*}} = %c8, {{.*}} = %arg0) threads({{.*}}) in ({{.*}} = %c64, {{.*}} = %c2, {{.*}} = %c1)
// CHECK:   scf.if
func.func @static(%n: index, %out: memref<?x16x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%n, %c16, %c64) step (%c1, %c1, %c1) {
    memref.store %f, %out[%i, %j, %k] : memref<?x16x64xf32>
  }
  return
}

// A dynamic innermost dimension takes the whole block, along x.
// CHECK-LABEL: func.func @dynamic
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}}, {{.*}} = %c1, {{.*}} = %c1) threads({{.*}}) in ({{.*}} = %c128, {{.*}} = %c1, {{.*}} = %c1)
func.func @dynamic(%n: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    memref.store %f, %out[%i] : memref<?xf32>
  }
  return
}

// Loops inside sequential loops get blocks of threads too (a launch per
// iteration).
// CHECK-LABEL: func.func @nested
// CHECK: scf.for
// CHECK: gpu.launch blocks({{.*}}) threads({{.*}}) in ({{.*}} = %c128, {{.*}} = %c1, {{.*}} = %c1)
func.func @nested(%n: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  scf.for %t = %c0 to %n step %c1 {
    scf.parallel (%i) = (%c0) to (%n) step (%c1) {
      memref.store %f, %out[%i] : memref<?xf32>
    }
  }
  return
}

// Only three dimensions map to the hardware (the mapper would run a fourth,
// the innermost, sequentially in each thread), so the leading ones fold into
// one, which maps to z; z holds at most 64 threads (2 x 1 x 128 would not
// launch).
// CHECK-LABEL: func.func @deep
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c1, {{.*}} = %c1, {{.*}} = %c6) threads({{.*}}) in ({{.*}} = %c2, {{.*}} = %c1, {{.*}} = %c64)
// CHECK-NOT: scf.for
// CHECK: arith.remsi %{{.*}}, %c128
// CHECK: arith.divsi %{{.*}}, %c128
// CHECK-NOT: scf.for
// WIDE-LABEL: func.func @deep
// WIDE: threads({{.*}}) in ({{.*}} = %c2, {{.*}} = %c1, {{.*}} = %c64)
func.func @deep(%out: memref<3x128x1x2xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c128 = arith.constant 128 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i, %j, %k, %l) = (%c0, %c0, %c0, %c0) to (%c3, %c128, %c1, %c2) step (%c1, %c1, %c1, %c1) {
    memref.store %f, %out[%i, %j, %k, %l] : memref<3x128x1x2xf32>
  }
  return
}
