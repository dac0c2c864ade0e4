//===- HostOutlineLoopNests.cpp - Each loop nest a function of its own ----===//
//
// A graph lowered to loops is one function of thousands of loop nests, and
// LLVM's optimiser and code generator cost grows faster than linearly with a
// function's size: the tiny config's three graphs took a minute to compile.
// Here each loop nest at the top of a graph becomes a private function of
// its own, called where the nest was. The functions keep internal linkage
// and are never inlined back, so LLVM works on many small functions; the
// constants a nest uses are cloned into it rather than passed, so that they
// stay constants there.
//
// Most nests of a graph are small (a norm over one row block, a copy), and
// LLVM's -O3 multiplies their code by unrolling and vectorising them with
// runtime alias checks. A nest of fewer iterations than a threshold is
// marked optsize, which keeps them as loops (with every nest so marked, the
// tiny config's optimised code was 6.8 times smaller).
//
//===----------------------------------------------------------------------===//

#include "dg/DgDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/MathExtras.h"

namespace dgc {
#define GEN_PASS_DEF_DGHOSTOUTLINELOOPNESTS
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// A value the outlined function recomputes instead of taking: a constant.
bool isClonedConstant(Value value) {
  Operation *def = value.getDefiningOp();
  return def && def->getNumOperands() == 0 && def->getNumRegions() == 0 &&
         def->hasTrait<OpTrait::ConstantLike>();
}

/// Trip count of a loop dimension; a dynamic one (a batch, a prompt) counts
/// as 16.
uint64_t tripCount(Value lower, Value upper, Value step) {
  std::optional<int64_t> l = getConstantIntValue(lower),
                         u = getConstantIntValue(upper),
                         s = getConstantIntValue(step);
  if (!l || !u || !s || *s <= 0)
    return 16;
  return *u <= *l ? 0 : llvm::divideCeil(*u - *l, *s);
}

/// The innermost bodies' executions along the heaviest path of `op`'s loops,
/// saturating.
uint64_t iterations(Operation *op) {
  uint64_t inner = 1;
  for (Region &region : op->getRegions())
    for (Operation &nested : region.getOps())
      inner = std::max(inner, iterations(&nested));
  uint64_t trips = 1;
  if (auto loop = dyn_cast<scf::ForOp>(op))
    trips =
        tripCount(loop.getLowerBound(), loop.getUpperBound(), loop.getStep());
  else if (auto loop = dyn_cast<scf::ParallelOp>(op))
    for (auto [l, u, s] :
         llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep()))
      trips = llvm::SaturatingMultiply(trips, tripCount(l, u, s));
  else if (isa<LoopLikeOpInterface>(op))
    trips = 16;
  return llvm::SaturatingMultiply(trips, inner);
}

/// The loop of `nest` whose iterations the thread pool shares out: the
/// first of its scf.parallel's loops with a constant trip count of at least
/// two (the first loop is often a batch of one), else a dynamic one.
std::optional<unsigned> chunkedLoop(Operation *nest) {
  auto parallel = dyn_cast<scf::ParallelOp>(nest);
  if (!parallel || parallel.getNumResults() != 0)
    return std::nullopt;
  std::optional<unsigned> dynamic;
  for (unsigned d = 0; d < parallel.getNumLoops(); ++d) {
    std::optional<int64_t> l = getConstantIntValue(parallel.getLowerBound()[d]),
                           u = getConstantIntValue(parallel.getUpperBound()[d]),
                           s = getConstantIntValue(parallel.getStep()[d]);
    if (l && u && s) {
      if (*s > 0 && *u - *l >= 2 * *s)
        return d;
    } else if (!dynamic) {
      dynamic = d;
    }
  }
  return dynamic;
}

/// Replaces `nest` by a call of a new private function `name` that holds it.
/// With `chunked`, the function takes the range [begin, end) of that loop's
/// iterations first and runs only those (dg-host-parallel-dispatch makes the
/// call share them out among threads); the call passes them all.
void outline(Operation *nest, StringRef name, bool small,
             std::optional<unsigned> chunked, SymbolTable &symbols) {
  SetVector<Value> captured;
  for (Value operand : nest->getOperands())
    captured.insert(operand);
  for (Region &region : nest->getRegions())
    getUsedValuesDefinedAbove(region, captured);
  SmallVector<Value> arguments, constants;
  for (Value value : captured)
    (isClonedConstant(value) ? constants : arguments).push_back(value);

  OpBuilder builder(nest->getParentOfType<func::FuncOp>());
  Location loc = nest->getLoc();
  SmallVector<Type> argumentTypes;
  if (chunked)
    argumentTypes.assign(2, builder.getIndexType());
  llvm::append_range(argumentTypes, ValueRange(arguments).getTypes());
  auto type = builder.getFunctionType(argumentTypes, nest->getResultTypes());
  auto function = func::FuncOp::create(builder, loc, name, type);
  function.setPrivate();
  // Internal: LLVM sees every call, so it may drop unused arguments and
  // propagate constant ones, and nothing is exported from the library.
  // noinline as an LLVM attribute: func.func's own no_inline does not
  // reach LLVM IR.
  function->setAttr(
      "llvm.linkage",
      LLVM::LinkageAttr::get(builder.getContext(), LLVM::Linkage::Internal));
  SmallVector<Attribute> llvmAttributes = {builder.getStringAttr("noinline")};
  if (small)
    llvmAttributes.push_back(builder.getStringAttr("optsize"));
  function->setAttr("passthrough", builder.getArrayAttr(llvmAttributes));
  if (chunked)
    function->setAttr(dg::kParallelChunksAttrName, builder.getUnitAttr());
  symbols.insert(function);

  Block *body = function.addEntryBlock();
  IRMapping mapping;
  mapping.map(arguments, body->getArguments().drop_front(chunked ? 2 : 0));
  builder.setInsertionPointToStart(body);
  for (Value constant : constants)
    mapping.map(constant,
                builder.clone(*constant.getDefiningOp())->getResult(0));
  Operation *moved = builder.clone(*nest, mapping);
  func::ReturnOp::create(builder, loc, moved->getResults());

  builder.setInsertionPoint(nest);
  SmallVector<Value> callArguments;
  if (chunked) {
    // Iterations [begin, end) of loop d: lower + begin * step up to
    // min(upper, lower + end * step).
    auto parallel = cast<scf::ParallelOp>(moved);
    unsigned d = *chunked, loops = parallel.getNumLoops();
    builder.setInsertionPoint(parallel);
    Value lower = parallel.getLowerBound()[d];
    Value upper = parallel.getUpperBound()[d];
    Value step = parallel.getStep()[d];
    auto at = [&](Value i) {
      return arith::AddIOp::create(
          builder, loc, lower, arith::MulIOp::create(builder, loc, i, step));
    };
    parallel->setOperand(d, at(body->getArgument(0)));
    parallel->setOperand(
        loops + d,
        arith::MinSIOp::create(builder, loc, upper, at(body->getArgument(1))));
    // The whole range, from the graph.
    builder.setInsertionPoint(nest);
    auto original = cast<scf::ParallelOp>(nest);
    Value span = arith::SubIOp::create(
        builder, loc, original.getUpperBound()[d], original.getLowerBound()[d]);
    callArguments.push_back(arith::ConstantIndexOp::create(builder, loc, 0));
    callArguments.push_back(
        arith::CeilDivSIOp::create(builder, loc, span, original.getStep()[d]));
  }
  llvm::append_range(callArguments, arguments);
  auto call = func::CallOp::create(builder, loc, function, callArguments);
  nest->replaceAllUsesWith(call.getResults());
  nest->erase();
}

struct DgHostOutlineLoopNests
    : impl::DgHostOutlineLoopNestsBase<DgHostOutlineLoopNests> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    SmallVector<func::FuncOp> graphs;
    for (auto function : module.getOps<func::FuncOp>())
      if (!function.isExternal() && function.isPublic())
        graphs.push_back(function);
    for (func::FuncOp graph : graphs) {
      SmallVector<Operation *> nests;
      for (Block &block : graph.getBody())
        for (Operation &op : block)
          if (isa<LoopLikeOpInterface>(op))
            nests.push_back(&op);
      for (auto [index, nest] : llvm::enumerate(nests)) {
        uint64_t work = iterations(nest);
        std::optional<unsigned> chunked;
        if (work >= uint64_t(parallelNestIterations))
          chunked = chunkedLoop(nest);
        outline(nest, (graph.getSymName() + "_nest" + Twine(index)).str(),
                work < uint64_t(smallNestIterations), chunked, symbols);
      }
    }
  }
};

} // namespace
} // namespace dgc
