// RUN: dgc-opt %s --pass-pipeline="builtin.module(dg-gpu-modules-to-binaries)" | FileCheck %s

// Each gpu.module becomes a gpu.binary of the same name, in the modules'
// order, holding its target's PTX; the rest of the module stays.
// CHECK-NOT: gpu.module
// CHECK: gpu.binary @first [#gpu.object<#nvvm.target<chip = "sm_90a">, {{.*}}assembly = "{{.*}}.visible .entry first_kernel{{.*}}">]
// CHECK: gpu.binary @second [#gpu.object<#nvvm.target<chip = "sm_90a">, {{.*}}assembly = "{{.*}}.visible .entry second_kernel{{.*}}">]
// CHECK: llvm.func @host
// CHECK-NOT: gpu.module
module attributes {gpu.container_module} {
  gpu.module @first [#nvvm.target<chip = "sm_90a">] {
    llvm.func @first_kernel(%p: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel} {
      %c = llvm.mlir.constant(1.0 : f32) : f32
      llvm.store %c, %p : f32, !llvm.ptr
      llvm.return
    }
  }
  gpu.module @second [#nvvm.target<chip = "sm_90a">] {
    llvm.func @second_kernel(%p: !llvm.ptr) attributes {gpu.kernel, nvvm.kernel} {
      %c = llvm.mlir.constant(2.0 : f32) : f32
      llvm.store %c, %p : f32, !llvm.ptr
      llvm.return
    }
  }
  llvm.func @host() {
    llvm.return
  }
}
