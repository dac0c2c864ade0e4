//===- FuseElementwise.cpp - Chains of elementwise generics as one --------===//
//
// convert-dg-to-linalg writes one linalg.generic per dg op, so a softcap
// (divide, tanh, multiply), a temperature, a norm's scale or a gated GELU is
// a chain of generics, each a full pass over its tensor: a kernel and a
// round trip through memory per op on the GPU, a loop nest per op on the
// host. Upstream's elementwise fusion merges a producer into its consumer;
// here it is limited to what the later passes expect to find whole:
// producer and consumer both all-parallel and without a dg contract, so
// reductions, contractions and generics a later pass looks for by their
// contract stay as written, and the producer read by the consumer only, so
// nothing is computed twice.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dg/DgDialect.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace dgc {
#define GEN_PASS_DEF_DGFUSEELEMENTWISE
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

bool isPlainElementwise(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  return generic && generic.getNumLoops() == generic.getNumParallelLoops() &&
         !dg::hasContract(generic);
}

struct FuseElementwise : impl::DgFuseElementwiseBase<FuseElementwise> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    linalg::populateElementwiseOpsFusionPatterns(
        patterns, [](OpOperand *fused) {
          // A producer read elsewhere too would be computed twice.
          return fused->get().hasOneUse() &&
                 isPlainElementwise(fused->get().getDefiningOp()) &&
                 isPlainElementwise(fused->getOwner());
        });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
} // namespace dgc
