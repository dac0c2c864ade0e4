// RUN: dgc-opt %s --dg-merge-identical-functions --split-input-file | FileCheck %s

// Loop nests outlined from two layers: the second layer's copy of a nest
// goes and its call points at the first; a nest that differs in one
// constant, a public function and a declaration stay.
// CHECK-LABEL: func.func @step
// CHECK-NEXT: call @step_nest0(%{{.*}}) : (memref<8xf32>) -> ()
// CHECK-NEXT: call @step_nest0(%{{.*}}) : (memref<8xf32>) -> ()
// CHECK-NEXT: call @step_nest2(%{{.*}}) : (memref<8xf32>) -> ()
// CHECK-NEXT: call @public_nest(%{{.*}}) : (memref<8xf32>) -> ()
// CHECK-NEXT: call @public_twin(%{{.*}}) : (memref<8xf32>) -> ()
// CHECK-NEXT: call @external(%{{.*}}) : (memref<8xf32>) -> ()
// CHECK-NEXT: call @external_twin(%{{.*}}) : (memref<8xf32>) -> ()
// CHECK: func.func private @step_nest0(
// CHECK-NOT: func.func private @step_nest1(
// CHECK: func.func private @step_nest2(
// CHECK: arith.constant 3.000000e+00
// CHECK: func.func @public_nest(
// CHECK: func.func @public_twin(
// CHECK: func.func private @external(
// CHECK: func.func private @external_twin(
func.func @step(%buffer: memref<8xf32>) {
  call @step_nest0(%buffer) : (memref<8xf32>) -> ()
  call @step_nest1(%buffer) : (memref<8xf32>) -> ()
  call @step_nest2(%buffer) : (memref<8xf32>) -> ()
  call @public_nest(%buffer) : (memref<8xf32>) -> ()
  call @public_twin(%buffer) : (memref<8xf32>) -> ()
  call @external(%buffer) : (memref<8xf32>) -> ()
  call @external_twin(%buffer) : (memref<8xf32>) -> ()
  return
}
func.func private @step_nest0(%buffer: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %two = arith.constant 2.0 : f32
  memref.store %two, %buffer[%c0] : memref<8xf32>
  return
}
func.func private @step_nest1(%buffer: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %two = arith.constant 2.0 : f32
  memref.store %two, %buffer[%c0] : memref<8xf32>
  return
}
func.func private @step_nest2(%buffer: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %three = arith.constant 3.0 : f32
  memref.store %three, %buffer[%c0] : memref<8xf32>
  return
}
func.func @public_nest(%buffer: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %two = arith.constant 2.0 : f32
  memref.store %two, %buffer[%c0] : memref<8xf32>
  return
}
func.func @public_twin(%buffer: memref<8xf32>) {
  %c0 = arith.constant 0 : index
  %two = arith.constant 2.0 : f32
  memref.store %two, %buffer[%c0] : memref<8xf32>
  return
}
func.func private @external(memref<8xf32>)
func.func private @external_twin(memref<8xf32>)

// -----

// Kernels outlined from two graphs: modules and kernels named after their
// graph. The second module's launch points at the first's module and
// kernel. A kernel may spell another module's name (`@decode_kernel` in
// `@decode_kernel_1`): references are replaced whole, never by their parts.
// CHECK-LABEL: func.func @decode
// CHECK: gpu.launch_func @prefill_kernel::@prefill_kernel
// CHECK: gpu.launch_func @prefill_kernel::@prefill_kernel
// CHECK: gpu.launch_func @decode_kernel_1::@decode_kernel
// CHECK: gpu.launch_func @decode_kernel_1::@decode_kernel
// CHECK: gpu.module @prefill_kernel
// CHECK-NOT: gpu.module @decode_kernel {
// CHECK: gpu.module @decode_kernel_1
// CHECK: arith.constant 7.000000e+00
// CHECK-NOT: gpu.module
module attributes {gpu.container_module} {
  func.func @decode(%buffer: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @prefill_kernel::@prefill_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>)
    gpu.launch_func @decode_kernel::@decode_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>)
    gpu.launch_func @decode_kernel_1::@decode_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>)
    gpu.launch_func @decode_kernel_2::@decode_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>)
    return
  }
  gpu.module @prefill_kernel {
    gpu.func @prefill_kernel(%buffer: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %two = arith.constant 2.0 : f32
      memref.store %two, %buffer[%c0] : memref<8xf32>
      gpu.return
    }
  }
  gpu.module @decode_kernel {
    gpu.func @decode_kernel(%buffer: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %two = arith.constant 2.0 : f32
      memref.store %two, %buffer[%c0] : memref<8xf32>
      gpu.return
    }
  }
  gpu.module @decode_kernel_1 {
    gpu.func @decode_kernel(%buffer: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %seven = arith.constant 7.0 : f32
      memref.store %seven, %buffer[%c0] : memref<8xf32>
      gpu.return
    }
  }
  gpu.module @decode_kernel_2 {
    gpu.func @decode_kernel(%buffer: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %seven = arith.constant 7.0 : f32
      memref.store %seven, %buffer[%c0] : memref<8xf32>
      gpu.return
    }
  }
}
