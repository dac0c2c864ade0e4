// A graph written as dg IR: one bf16 projection of its input.
module attributes {dg.model = "diffusion_gemma", dg.dtype = bf16, dg.canvas_length = 4 : i64, dg.vocab_size = 8 : i64, dg.hidden_size = 16 : i64} {
  func.func @project(%x: tensor<?x4x16xbf16> {dg.name = "x"}) -> (tensor<?x4x32xbf16> {dg.name = "y"}) {
    %w = dg.weight "w" : tensor<32x16xbf16>
    %y = dg.matmul %x, %w {transpose_rhs} : tensor<?x4x16xbf16>, tensor<32x16xbf16> -> tensor<?x4x32xbf16>
    return %y : tensor<?x4x32xbf16>
  }
}
