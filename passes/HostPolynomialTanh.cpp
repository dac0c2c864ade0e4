//===- HostPolynomialTanh.cpp - tanh as arithmetic, on the host -----------===//
//
// The MLPs' gelu (tanh form) calls libm's tanhf once per element: a call
// (and an expm1f inside it) that no loop around it can vectorise, a sixth of
// the host's prefill. MLIR's rational approximation of tanh (f32, clamped
// to +-7.9 beyond which it is +-1 in f32) is plain arithmetic, accurate to
// a few ulp, so the elementwise loops it sits in vectorise.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace dgc {
#define GEN_PASS_DEF_DGHOSTPOLYNOMIALTANH
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

struct HostPolynomialTanh : impl::DgHostPolynomialTanhBase<HostPolynomialTanh> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populatePolynomialApproximateTanhPattern(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // The approximation's math.fma would be a libm call on a CPU without
    // FMA (--cpu generic); a contractable multiply and add fuse where the
    // CPU has it.
    getOperation().walk([](math::FmaOp fma) {
      OpBuilder b(fma);
      auto contract = arith::FastMathFlags::contract;
      Value product = arith::MulFOp::create(b, fma.getLoc(), fma.getA(),
                                            fma.getB(), contract);
      fma.replaceAllUsesWith(
          arith::AddFOp::create(b, fma.getLoc(), product, fma.getC(), contract)
              .getResult());
      fma.erase();
    });
  }
};

} // namespace
} // namespace dgc
