// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-device-copies))" | FileCheck %s

// Copies between GPU buffers (gpu.alloc, the graph's arguments, views of
// them) become linalg.copy, which the GPU passes map to a kernel; a copy
// out of host memory (a constant global) and one inside a kernel stay.
memref.global "private" constant @table : memref<4xf32> = dense<1.0>
// CHECK-LABEL: func.func @copies
// CHECK-SAME: (%[[ARG:.*]]: memref<8x4xf32>)
// CHECK: %[[A:.*]] = gpu.alloc host_shared () : memref<8x4xf32>
// CHECK: linalg.copy ins(%[[ARG]] : memref<8x4xf32>) outs(%[[A]] : memref<8x4xf32>)
// CHECK: %[[ROW:.*]] = memref.subview %[[A]][2, 0] [1, 4] [1, 1]
// CHECK: linalg.copy ins(%[[B:.*]] : memref<4xf32>) outs(%[[ROW]] : memref<4xf32, strided<[1], offset: 8>>)
// CHECK: memref.copy %[[G:.*]], %[[B]] : memref<4xf32> to memref<4xf32>
// CHECK: gpu.launch
// CHECK:   memref.copy
// CHECK-NOT: memref.copy
func.func @copies(%arg: memref<8x4xf32>) {
  %a = gpu.alloc host_shared () : memref<8x4xf32>
  memref.copy %arg, %a : memref<8x4xf32> to memref<8x4xf32>
  %b = gpu.alloc host_shared () : memref<4xf32>
  %row = memref.subview %a[2, 0] [1, 4] [1, 1] : memref<8x4xf32> to memref<4xf32, strided<[1], offset: 8>>
  memref.copy %b, %row : memref<4xf32> to memref<4xf32, strided<[1], offset: 8>>
  %g = memref.get_global @table : memref<4xf32>
  memref.copy %g, %b : memref<4xf32> to memref<4xf32>
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1) threads(%tx, %ty, %tz) in (%u = %c1, %v = %c1, %w = %c1) {
    memref.copy %b, %row : memref<4xf32> to memref<4xf32, strided<[1], offset: 8>>
    gpu.terminator
  }
  return
}
