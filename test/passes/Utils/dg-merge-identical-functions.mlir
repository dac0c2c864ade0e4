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

// Kernel modules named after the part they compute (dg-gpu-name-kernels):
// a module with the first's code and part (`moe_gather_1`) goes, and its
// launch points at the first's module and kernel; `moe_down` has the same
// code but another part, and stays. A kernel may spell another module's
// name (`@moe_gather_1` in `@moe_gather_2`): references are replaced whole,
// never by their parts.
// CHECK-LABEL: func.func @decode
// CHECK: gpu.launch_func @moe_gather::@moe_gather
// CHECK: gpu.launch_func @moe_gather::@moe_gather
// CHECK: gpu.launch_func @moe_gather_2::@moe_gather_1
// CHECK: gpu.launch_func @moe_gather_2::@moe_gather_1
// CHECK: gpu.launch_func @moe_down::@moe_down
// CHECK: gpu.module @moe_gather
// CHECK-NOT: gpu.module @moe_gather_1 {
// CHECK: gpu.module @moe_gather_2
// CHECK: arith.constant 7.000000e+00
// CHECK-NOT: gpu.module @moe_gather
// CHECK: gpu.module @moe_down
// CHECK-NOT: gpu.module
module attributes {gpu.container_module} {
  func.func @decode(%buffer: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @moe_gather::@moe_gather blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>)
    gpu.launch_func @moe_gather_1::@moe_gather_1 blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>)
    gpu.launch_func @moe_gather_2::@moe_gather_1 blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>)
    gpu.launch_func @moe_gather_3::@moe_gather_1 blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>)
    gpu.launch_func @moe_down::@moe_down blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>)
    return
  }
  gpu.module @moe_gather {
    gpu.func @moe_gather(%buffer: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %two = arith.constant 2.0 : f32
      memref.store %two, %buffer[%c0] : memref<8xf32>
      gpu.return
    }
  }
  gpu.module @moe_gather_1 {
    gpu.func @moe_gather_1(%buffer: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %two = arith.constant 2.0 : f32
      memref.store %two, %buffer[%c0] : memref<8xf32>
      gpu.return
    }
  }
  gpu.module @moe_gather_2 {
    gpu.func @moe_gather_1(%buffer: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %seven = arith.constant 7.0 : f32
      memref.store %seven, %buffer[%c0] : memref<8xf32>
      gpu.return
    }
  }
  gpu.module @moe_gather_3 {
    gpu.func @moe_gather_1(%buffer: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %seven = arith.constant 7.0 : f32
      memref.store %seven, %buffer[%c0] : memref<8xf32>
      gpu.return
    }
  }
  gpu.module @moe_down {
    gpu.func @moe_down(%buffer: memref<8xf32>) kernel {
      %c0 = arith.constant 0 : index
      %two = arith.constant 2.0 : f32
      memref.store %two, %buffer[%c0] : memref<8xf32>
      gpu.return
    }
  }
}
