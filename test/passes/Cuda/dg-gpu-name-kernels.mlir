// RUN: dgc-opt %s --pass-pipeline="builtin.module(dg-gpu-name-kernels)" | FileCheck %s

// Kernels take the name their first launch carries: nested NameLocs
// joined outermost first ("moe" around "dispatch"), characters a PTX
// identifier cannot hold as underscores, a number after a name taken. A
// second launch of a renamed kernel follows it; a launch with no name in
// its location (even inside a FusedLoc) leaves its kernel's name; a name
// that would start with a digit is prefixed.
// CHECK-LABEL: func.func @decoder
// CHECK: gpu.launch_func @moe_dispatch::@moe_dispatch
// CHECK: gpu.launch_func @moe_dispatch_1::@moe_dispatch_1
// CHECK: gpu.launch_func @moe_dispatch::@moe_dispatch
// CHECK: gpu.launch_func @self_attn_q_proj::@self_attn_q_proj
// CHECK: gpu.launch_func @decoder_kernel_3::@decoder_kernel
// CHECK: gpu.launch_func @k_2nd::@k_2nd
// CHECK: gpu.module @moe_dispatch {
// CHECK-NEXT: gpu.func @moe_dispatch(
// CHECK: gpu.module @moe_dispatch_1 {
// CHECK-NEXT: gpu.func @moe_dispatch_1(
// CHECK: gpu.module @self_attn_q_proj {
// CHECK: gpu.module @decoder_kernel_3 {
// CHECK-NEXT: gpu.func @decoder_kernel(
// CHECK: gpu.module @k_2nd {
#file = loc("config.json":0:0)
#moe = loc("moe"(#file))
module attributes {gpu.container_module} {
  func.func @decoder(%buffer: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @decoder_kernel::@decoder_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>) loc("dispatch"(#moe))
    gpu.launch_func @decoder_kernel_1::@decoder_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>) loc("dispatch"(#moe))
    gpu.launch_func @decoder_kernel::@decoder_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>) loc(#file)
    gpu.launch_func @decoder_kernel_2::@decoder_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>) loc(fused[#file, "self_attn.q_proj"(#file)])
    gpu.launch_func @decoder_kernel_3::@decoder_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>) loc(fused[#file, #file])
    gpu.launch_func @decoder_kernel_4::@decoder_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%buffer : memref<8xf32>) loc("2nd"(#file))
    return
  }
  gpu.module @decoder_kernel {
    gpu.func @decoder_kernel(%buffer: memref<8xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @decoder_kernel_1 {
    gpu.func @decoder_kernel(%buffer: memref<8xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @decoder_kernel_2 {
    gpu.func @decoder_kernel(%buffer: memref<8xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @decoder_kernel_3 {
    gpu.func @decoder_kernel(%buffer: memref<8xf32>) kernel {
      gpu.return
    }
  }
  gpu.module @decoder_kernel_4 {
    gpu.func @decoder_kernel(%buffer: memref<8xf32>) kernel {
      gpu.return
    }
  }
}
