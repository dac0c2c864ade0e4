// RUN: dgc-opt %s --pass-pipeline='builtin.module(gpu.module(dg-gpu-align-workgroup-memory))' | FileCheck %s
// RUN: dgc-opt %s --pass-pipeline='builtin.module(gpu.module(dg-gpu-align-workgroup-memory),gpu.module(convert-gpu-to-nvvm))' | FileCheck %s --check-prefix=NVVM

// Every workgroup attribution starts 16-byte aligned, for the kernels'
// 16-byte vector stores into shared tiles; a larger alignment stays, and
// private attributions are not shared memory.
// CHECK-LABEL: gpu.func @tiles
// CHECK-SAME: workgroup(%{{.*}} : memref<64x40xbf16, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<32xf32, #gpu.address_space<workgroup>> {llvm.align = 16 : i64}, %{{.*}} : memref<8xbf16, #gpu.address_space<workgroup>> {llvm.align = 32 : i64})
// CHECK-SAME: private(%{{.*}} : memref<4xf32, #gpu.address_space<private>>)
// NVVM: llvm.mlir.global internal @__wg_tiles_0() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<2560 x bf16>
// NVVM: llvm.mlir.global internal @__wg_tiles_1() {addr_space = 3 : i32, alignment = 16 : i64} : !llvm.array<32 x f32>
// NVVM: llvm.mlir.global internal @__wg_tiles_2() {addr_space = 3 : i32, alignment = 32 : i64} : !llvm.array<8 x bf16>
gpu.module @kernels {
  gpu.func @tiles() workgroup(%a : memref<64x40xbf16, #gpu.address_space<workgroup>>, %b : memref<32xf32, #gpu.address_space<workgroup>>, %c : memref<8xbf16, #gpu.address_space<workgroup>> {llvm.align = 32 : i64}) private(%p : memref<4xf32, #gpu.address_space<private>>) kernel {
    gpu.return
  }
}
