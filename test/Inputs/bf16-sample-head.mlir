// The sampling head of the 26B-A4B config at 16 rows (as
// `bench/fused_kernels.py module configs/diffusiongemma-26b-a4b/config.json
// --rows 16` writes it): at this vocabulary its bf16 rounding is a call of
// __truncsfbf2 in the host code.
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 256, vocab_size = 262144, hidden_size = 2816>} {
  func.func @sample() -> (tensor<1x16x262144xbf16> {dg.name = "logits"}, tensor<1x16xi32> {dg.name = "argmax"}, tensor<1x16x64xf32> {dg.name = "topk_probs"}, tensor<1x16x64xi32> {dg.name = "topk_ids"}, tensor<1x16xf32> {dg.name = "entropy"}) {
    %v1 = dg.weight "sample.hidden" : tensor<1x16x2816xbf16>
    %v2 = dg.weight "sample.embedding" : tensor<262144x2816xbf16>
    %v3 = arith.constant dense<8.00000000000000044e-01> : tensor<1xf32>
    %v4:5 = dg.sample %v1, %v2, %v3 {softcap = 3.00000000000000000e+01 : f64, top_k = 64 : i64} : tensor<1x16x2816xbf16>, tensor<262144x2816xbf16>, tensor<1xf32> -> tensor<1x16x262144xbf16>, tensor<1x16xi32>, tensor<1x16x64xf32>, tensor<1x16x64xi32>, tensor<1x16xf32>
    return %v4#0, %v4#1, %v4#2, %v4#3, %v4#4 : tensor<1x16x262144xbf16>, tensor<1x16xi32>, tensor<1x16x64xf32>, tensor<1x16x64xi32>, tensor<1x16xf32>
  }
}
