// A graph written as dg IR: one bf16 projection of its input.
module attributes {dg.model = #dg.model<name = "diffusion_gemma", dtype = bf16, canvas_length = 4, vocab_size = 8, hidden_size = 16>} {
  func.func @project(%x: tensor<?x4x16xbf16> {dg.name = "x"}) -> (tensor<?x4x32xbf16> {dg.name = "y"}) {
    %w = dg.weight "w" : tensor<32x16xbf16>
    %y = dg.matmul %x, %w {transpose_rhs} : tensor<?x4x16xbf16>, tensor<32x16xbf16> -> tensor<?x4x32xbf16>
    return %y : tensor<?x4x32xbf16>
  }
}
