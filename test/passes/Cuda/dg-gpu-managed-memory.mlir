// RUN: dgc-opt %s --dg-gpu-managed-memory --split-input-file | FileCheck %s

// Data buffers become managed memory, freed asynchronously; shape buffers
// (index elements) stay on the host.
// CHECK-LABEL: func.func @buffers
// CHECK: %[[DATA:.*]] = gpu.alloc host_shared (%{{.*}}) : memref<?x16xf32>
// CHECK: %[[SHAPE:.*]] = memref.alloc() : memref<2xindex>
// CHECK: %[[T0:.*]] = gpu.wait async
// CHECK: %[[T1:.*]] = gpu.dealloc async [%[[T0]]] %[[DATA]] : memref<?x16xf32>
// CHECK: gpu.wait [%[[T1]]]
// CHECK: memref.dealloc %[[SHAPE]] : memref<2xindex>
// CHECK-NOT: memref.alloc(
func.func @buffers(%n: index) {
  %data = memref.alloc(%n) : memref<?x16xf32>
  %shape = memref.alloc() : memref<2xindex>
  memref.dealloc %data : memref<?x16xf32>
  memref.dealloc %shape : memref<2xindex>
  return
}

// -----

// A constant global is copied into managed memory where it is read, and
// freed before the graph returns.
memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
// CHECK-LABEL: func.func @constant
// CHECK: %[[G:.*]] = memref.get_global @table : memref<4xf32>
// CHECK: %[[M:.*]] = gpu.alloc host_shared () : memref<4xf32>
// CHECK: memref.copy %[[G]], %[[M]]
// CHECK: %[[V:.*]] = memref.load %[[M]]
// CHECK: gpu.dealloc async [%{{.*}}] %[[M]]
// CHECK: return %[[V]]
func.func @constant(%i: index) -> f32 {
  %g = memref.get_global @table : memref<4xf32>
  %v = memref.load %g[%i] : memref<4xf32>
  return %v : f32
}
