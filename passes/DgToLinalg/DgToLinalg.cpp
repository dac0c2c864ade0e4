//===- DgToLinalg.cpp - The convert-dg-to-linalg pass ---------------------===//

#include "passes/Passes.h"

#include "dg/DgDialect.h"
#include "passes/DgToLinalg/Patterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

namespace dgc {
#define GEN_PASS_DEF_CONVERTDGTOLINALG
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

struct ConvertDgToLinalgPass
    : impl::ConvertDgToLinalgBase<ConvertDgToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    if (moeGroupRows < 1) {
      getOperation().emitError() << "moe-group-rows must be at least 1, got "
                                 << static_cast<int64_t>(moeGroupRows);
      return signalPassFailure();
    }
    if (sampleCandidates < 0) {
      getOperation().emitError() << "sample-candidates must be at least 0, got "
                                 << static_cast<int64_t>(sampleCandidates);
      return signalPassFailure();
    }
    // Paged keys are pool rows only a flash kernel reads in place.
    WalkResult paged = getOperation().walk([&](dg::MaskedAttentionOp op) {
      if (!op.getRows() || lowering::isLeftWhole(op, flashAttention))
        return WalkResult::advance();
      op.emitOpError("with paged keys (rows) is computed only by the CUDA "
                     "target's flash-attention kernel (bf16, "
                     "flash-attention=true)");
      return WalkResult::interrupt();
    });
    if (paged.wasInterrupted())
      return signalPassFailure();
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    lowering::LoweringOptions options{moeGroupRows, sampleCandidates,
                                      flashAttention};
#define DG_LOWERING_FAMILY(Family)                                             \
  lowering::populate##Family##Patterns(patterns, options);
#include "passes/DgToLinalg/Families.def"

    ConversionTarget target(*ctx);
    target.addLegalDialect<arith::ArithDialect, func::FuncDialect,
                           linalg::LinalgDialect, math::MathDialect,
                           scf::SCFDialect, tensor::TensorDialect>();
    target.addIllegalDialect<dg::DgDialect>();
    // The runtime interface stays for its own lowering.
    target.addLegalOp<dg::WeightOp, dg::KVCacheReadOp, dg::KVCacheWriteOp>();
    target.addDynamicallyLegalOp<dg::MaskedAttentionOp>(
        [&](dg::MaskedAttentionOp op) {
          return lowering::isLeftWhole(op, flashAttention);
        });
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace dgc
