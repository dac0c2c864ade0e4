// RUN: dgc-opt %s --pass-pipeline="builtin.module(func.func(dg-gpu-flash-attention))" --split-input-file -verify-diagnostics

// The kernel multiplies bf16 on tensor cores; an f32 core is expanded by
// convert-dg-to-linalg instead, so reaching this pass is an error.
func.func @f32(%q: memref<?x16x4x32xf32>, %k: memref<?x?x2x32xf32>, %m: memref<?x16x?xf32>, %o: memref<?x16x4x32xf32>) {
  // expected-error @+1 {{a flash-attention kernel takes bf16 operands}}
  dg.masked_attention %q, %k, %k, %m into %o {scale = 1.0 : f64} : memref<?x16x4x32xf32>, memref<?x?x2x32xf32>, memref<?x?x2x32xf32>, memref<?x16x?xf32> into memref<?x16x4x32xf32>
  return
}

// -----

func.func @dynamic_head_dim(%q: memref<?x16x4x?xbf16>, %k: memref<?x?x2x?xbf16>, %m: memref<?x16x?xbf16>, %o: memref<?x16x4x?xbf16>) {
  // expected-error @+1 {{a flash-attention kernel needs a static head dimension}}
  dg.masked_attention %q, %k, %k, %m into %o {scale = 1.0 : f64} : memref<?x16x4x?xbf16>, memref<?x?x2x?xbf16>, memref<?x?x2x?xbf16>, memref<?x16x?xbf16> into memref<?x16x4x?xbf16>
  return
}
