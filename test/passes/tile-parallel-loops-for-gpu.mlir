// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-tile-parallel-loops-for-gpu{threads=128},gpu-map-parallel-loops,convert-parallel-loops-to-gpu,canonicalize))" | FileCheck %s

// The innermost static dimension fills the block first (64 of 128 threads),
// the next one takes the rest (2), and bounds are checked inside rather than
// clamped, so that the upstream passes map the loops to a grid of blocks.
// CHECK-LABEL: func.func @static
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %arg0, {{.*}} = %c8, {{.*}} = %c1) threads({{.*}}) in ({{.*}} = %c1, {{.*}} = %c2, {{.*}} = %c64)
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

// A dynamic innermost dimension takes the whole block.
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
