// RUN: dgc-opt %s --convert-dg-to-linalg --split-input-file -verify-diagnostics

// The paged attention core reads a KV cache's pool in place: only the CUDA
// target's flash kernel computes it, so there is nothing to expand it into.
func.func @paged(%q: tensor<1x16x4x32xbf16>, %pool: tensor<?x2x32xbf16>, %rows: tensor<1x?x2xi64>, %m: tensor<1x16x?xbf16>) -> tensor<1x16x4x32xbf16> {
  // expected-error @+1 {{with paged keys (rows) is computed only by the CUDA target's flash-attention kernel (bf16, flash-attention=true)}}
  %a = dg.masked_attention %q, %pool, %pool, %m rows %rows into %q {scale = 1.0 : f64} : tensor<1x16x4x32xbf16>, tensor<?x2x32xbf16>, tensor<?x2x32xbf16>, tensor<1x16x?xbf16> rows tensor<1x?x2xi64> into tensor<1x16x4x32xbf16> -> tensor<1x16x4x32xbf16>
  return %a : tensor<1x16x4x32xbf16>
}
