//===- Passes.td - dgc's passes ----------------------------*- tablegen -*-===//

#ifndef DGC_PASSES_TD
#define DGC_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertDgToLinalg : Pass<"convert-dg-to-linalg", "mlir::ModuleOp"> {
  let summary = "Lower dg's compute ops to linalg, tensor, arith and math";
  let description = [{
    Rewrites every compute op of the dg dialect into upstream ops on tensors:
    `linalg.generic` for elementwise work, contractions and reductions (all
    accumulating in f32, as the dg ops specify), `tensor` ops for reshapes
    and slices, and `scf.for` over per-rank `linalg.generic` reductions for
    top-k. The result is the host target's starting point: it bufferizes and
    lowers to loops with upstream passes.

    `dg.weight` and the KV-cache ops are left alone: they are the runtime
    interface, lowered by their own pass.

    Broadcasting is decided statically: a dimension stretches only when it
    is a static 1 and the result's is not.
  }];
  let dependentDialects = [
    "mlir::arith::ArithDialect", "mlir::linalg::LinalgDialect",
    "mlir::math::MathDialect", "mlir::scf::SCFDialect",
    "mlir::tensor::TensorDialect"
  ];
}

#endif // DGC_PASSES_TD
