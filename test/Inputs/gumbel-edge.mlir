// One categorical draw per row over 16 logits, for GumbelEdgeTest.cpp.
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = f32, canvas_length = 4, vocab_size = 16, hidden_size = 8>} {
  func.func @draw(%logits: tensor<1x4x16xf32> {dg.name = "logits"},
                  %seeds: tensor<1x4xi32> {dg.name = "seeds"})
      -> (tensor<1x4xi32> {dg.name = "tokens"}) {
    %t = dg.categorical_sample %logits, %seeds : tensor<1x4x16xf32>, tensor<1x4xi32> -> tensor<1x4xi32>
    return %t : tensor<1x4xi32>
  }
}
