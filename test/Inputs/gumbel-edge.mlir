// One categorical draw per row over 16 logits, for GumbelEdgeTest.cpp.
module attributes {dg.model = "diffusion_gemma", dg.dtype = f32, dg.canvas_length = 4 : i64, dg.vocab_size = 16 : i64, dg.hidden_size = 8 : i64} {
  func.func @draw(%logits: tensor<1x4x16xf32> {dg.name = "logits"},
                  %seeds: tensor<1x4xi32> {dg.name = "seeds"})
      -> (tensor<1x4xi32> {dg.name = "tokens"}) {
    %t = dg.categorical_sample %logits, %seeds : tensor<1x4x16xf32>, tensor<1x4xi32> -> tensor<1x4xi32>
    return %t : tensor<1x4xi32>
  }
}
