// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-async-launches))" | FileCheck %s

// Kernels queue on one stream; the host waits only where it must.
module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @k(%m: memref<4xf32>) kernel {
      gpu.return
    }
  }
  func.func private @host_function(memref<4xf32>)

  // CHECK-LABEL: func.func @step
  // Launches chain after each other, across a shape operand written on the
  // host, an allocation and an asynchronous free (whose wait moves down).
  // CHECK: %[[S:.*]] = gpu.wait async
  // CHECK: %[[T1:.*]] = gpu.launch_func async [%[[S]]] @kernels::@k
  // CHECK: memref.store %{{.*}}, %[[SHAPE:.*]][
  // CHECK-NEXT: memref.reshape
  // CHECK: %[[B:.*]] = gpu.alloc host_shared () : memref<4xf32>
  // CHECK: %[[T2:.*]] = gpu.launch_func async [%[[T1]]] @kernels::@k
  // CHECK: %[[T3:.*]] = gpu.dealloc async [%[[T2]]] %[[B]]
  // CHECK-NOT: gpu.wait
  // CHECK: %[[T4:.*]] = gpu.launch_func async [%[[T3]]] @kernels::@k
  // A call into host code may read what the kernels wrote: wait first.
  // CHECK-NEXT: gpu.wait [%[[T4]]]
  // CHECK-NEXT: call @host_function
  // A host copy between GPU buffers waits too.
  // CHECK: %[[S2:.*]] = gpu.wait async
  // CHECK-NEXT: %[[T5:.*]] = gpu.launch_func async [%[[S2]]] @kernels::@k
  // CHECK-NEXT: gpu.wait [%[[T5]]]
  // CHECK-NEXT: memref.copy
  // A loop on the host waits before it, and its body chains on its own.
  // CHECK: %[[T6:.*]] = gpu.launch_func async
  // CHECK-NEXT: gpu.wait [%[[T6]]]
  // CHECK-NEXT: scf.for
  // CHECK:   %[[S3:.*]] = gpu.wait async
  // CHECK-NEXT:   %[[T7:.*]] = gpu.launch_func async [%[[S3]]] @kernels::@k
  // CHECK-NEXT:   gpu.wait [%[[T7]]]
  // CHECK-NEXT: }
  // The graph's return waits for the last kernels.
  // CHECK: %[[T8:.*]] = gpu.launch_func async
  // CHECK-NEXT: gpu.wait [%[[T8]]]
  // CHECK-NEXT: return
  func.func @step(%a: memref<4xf32>, %out: memref<4xf32>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%a : memref<4xf32>)
    %shape = memref.alloc() : memref<1xindex>
    memref.store %c4, %shape[%c0] : memref<1xindex>
    %r = memref.reshape %a(%shape) : (memref<4xf32>, memref<1xindex>) -> memref<?xf32>
    %b = gpu.alloc host_shared () : memref<4xf32>
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%b : memref<4xf32>)
    %s = gpu.wait async
    %freed = gpu.dealloc async [%s] %b : memref<4xf32>
    gpu.wait [%freed]
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%a : memref<4xf32>)
    call @host_function(%a) : (memref<4xf32>) -> ()
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%a : memref<4xf32>)
    memref.copy %a, %out : memref<4xf32> to memref<4xf32>
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%a : memref<4xf32>)
    scf.for %i = %c0 to %c4 step %c1 {
      gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%a : memref<4xf32>)
    }
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%out : memref<4xf32>)
    return
  }

  // An operation queued after another chain waits for the pending one
  // first.
  // CHECK-LABEL: func.func @other_chain
  // CHECK: %[[T:.*]] = gpu.launch_func async
  // CHECK-NEXT: gpu.wait [%[[T]]]
  // CHECK-NEXT: %[[O:.*]] = gpu.dealloc async [%arg2]
  // CHECK-NEXT: gpu.wait [%[[O]]]
  // CHECK-NEXT: return
  func.func @other_chain(%a: memref<4xf32>, %b: memref<4xf32>, %other: !gpu.async.token) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    gpu.launch_func @kernels::@k blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1) args(%a : memref<4xf32>)
    %o = gpu.dealloc async [%other] %b : memref<4xf32>
    gpu.wait [%o]
    return
  }
}
