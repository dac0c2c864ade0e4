//===- HostPolynomialMath.cpp - tanh, exp and log as arithmetic -----------===//
//
// On the host, math.tanh, math.exp and math.log become libm calls, one per
// element, that no loop around them vectorises: gelu's tanh (and the expm1f
// inside it) took a sixth of the prefill, and the softmax exponentials a
// sixth more. MLIR's polynomial approximations of these f32 functions are
// plain arithmetic, accurate to a few ulp, with exp(-inf) = 0, log(0) =
// -inf and NaN kept; exp flushes results below 2^-126 to 0. They replace
// every call, so that an exponential is the same number wherever it is
// computed (vector lanes or a scalar loop): the sampler's paths that must
// agree to f32 rounding compute the same softmax in different loops.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace dgc {
#define GEN_PASS_DEF_DGHOSTPOLYNOMIALMATH
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

struct HostPolynomialMath : impl::DgHostPolynomialMathBase<HostPolynomialMath> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<std::string> selected(ops.begin(), ops.end());
    if (selected.empty())
      selected = {"tanh", "exp", "log"};
    auto approximate = [&](StringRef name) {
      name.consume_front("math.");
      return llvm::is_contained(selected, name);
    };
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(patterns, approximate);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // The approximations' math.fma would be a libm call on a CPU without
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
