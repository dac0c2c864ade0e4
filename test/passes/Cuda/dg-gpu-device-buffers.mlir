// RUN: dgc-opt %s --dg-gpu-device-buffers | FileCheck %s

// Buffers and arguments only kernels touch move to device memory; anything
// the host reads, writes or hands to other code stays managed.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @k(%m: memref<4xf32>) kernel {
      gpu.return
    }
  }
  func.func private @host_function(memref<4xf32>)

  // CHECK-LABEL: func.func @graph
  // Read by kernels only, through a view: device memory. So is the
  // argument, and the result returned from device memory.
  // CHECK-SAME: %{{.*}}: memref<8xf32> {dg.device_only, dg.name = "weights"}
  // CHECK-SAME: %{{.*}}: memref<4xf32> {dg.name = "tokens"}
  // CHECK-SAME: -> (memref<4xf32> {dg.device_only, dg.name = "out"}, memref<4xf32> {dg.name = "host_out"})
  func.func @graph(%weights: memref<8xf32> {dg.name = "weights"},
                   %tokens: memref<4xf32> {dg.name = "tokens"})
      -> (memref<4xf32> {dg.name = "out"}, memref<4xf32> {dg.name = "host_out"}) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %f = arith.constant 1.0 : f32
    %w = memref.subview %weights[4] [4] [1]
        : memref<8xf32> to memref<4xf32, strided<[1], offset: 4>>
    %wc = memref.cast %w : memref<4xf32, strided<[1], offset: 4>> to memref<4xf32, strided<[1], offset: ?>>
    %w2 = memref.subview %weights[0] [4] [1] : memref<8xf32> to memref<4xf32>
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%w2 : memref<4xf32>)

    // CHECK: %[[S1:.*]] = gpu.wait async
    // CHECK-NEXT: %[[DEVICE:.*]], %[[T1:.*]] = gpu.alloc async [%[[S1]]] () : memref<4xf32>
    // CHECK-NEXT: gpu.wait [%[[T1]]]
    %device = gpu.alloc host_shared () : memref<4xf32>
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%device : memref<4xf32>)
    %n = memref.dim %device, %c0 : memref<4xf32>

    // Returned: the runtime copies it out.
    // CHECK: %[[OUT:.*]], %{{.*}} = gpu.alloc async [%{{.*}}] () : memref<4xf32>
    %out = gpu.alloc host_shared () : memref<4xf32>
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%out : memref<4xf32>)

    // Stored to on the host: managed.
    // CHECK: %[[STORED:.*]] = gpu.alloc  host_shared () : memref<4xf32>
    %stored = gpu.alloc host_shared () : memref<4xf32>
    memref.store %f, %stored[%c0] : memref<4xf32>
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%stored : memref<4xf32>)

    // Passed to host code: managed (and so is the argument read there).
    // CHECK: %[[CALLED:.*]] = gpu.alloc  host_shared () : memref<4xf32>
    %called = gpu.alloc host_shared () : memref<4xf32>
    call @host_function(%called) : (memref<4xf32>) -> ()
    call @host_function(%tokens) : (memref<4xf32>) -> ()

    // Copied on the host through a view: managed.
    // CHECK: %[[COPIED:.*]] = gpu.alloc  host_shared () : memref<4xf32>
    %copied = gpu.alloc host_shared () : memref<4xf32>
    %view = memref.cast %copied : memref<4xf32> to memref<?xf32>
    %other = memref.cast %called : memref<4xf32> to memref<?xf32>
    memref.copy %view, %other : memref<?xf32> to memref<?xf32>

    gpu.dealloc %device : memref<4xf32>
    gpu.dealloc %stored : memref<4xf32>
    gpu.dealloc %copied : memref<4xf32>
    return %out, %called : memref<4xf32>, memref<4xf32>
  }
}
