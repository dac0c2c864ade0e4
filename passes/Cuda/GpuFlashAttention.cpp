//===- GpuFlashAttention.cpp - dg.masked_attention as one flash kernel ----===//
//
// Each bf16 dg.masked_attention on buffers becomes one gpu.launch whose
// body FlashAttentionKernel.cpp builds.
//
//===----------------------------------------------------------------------===//

#include "passes/Cuda/FlashAttentionKernel.h"
#include "passes/Cuda/MmaTileKernel.h"
#include "passes/Passes.h"

#include "dg/DgDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/TypeUtilities.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUFLASHATTENTION
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

LogicalResult lowerToKernel(dg::MaskedAttentionOp op) {
  auto q = cast<MemRefType>(op.getQ().getType());
  for (Value operand :
       {op.getQ(), op.getKeys(), op.getValues(), op.getMask(), op.getInit()})
    if (!getElementTypeOrSelf(operand.getType()).isBF16())
      return op.emitOpError("a flash-attention kernel takes bf16 operands");
  if (q.isDynamicDim(3))
    return op.emitOpError("a flash-attention kernel needs a static head "
                          "dimension");
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto dim = [&](Value v, int64_t i) -> Value {
    return memref::DimOp::create(b, loc, v, i);
  };
  // Paged keys are counted by their row numbers.
  Value T = dim(op.getQ(), 1),
        S = op.getRows() ? dim(op.getRows(), 1) : dim(op.getKeys(), 1);
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  Value rowTiles = arith::CeilDivUIOp::create(b, loc, T, c(kFlashRows));
  Value slices = c(flashAttentionSlices(q.getDimSize(3)));
  auto launch = gpu::LaunchOp::create(
      b, loc, arith::MulIOp::create(b, loc, rowTiles, slices),
      c(q.getDimSize(2)), dim(op.getQ(), 0), c(kFlashThreads), c(1), c(1),
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      ValueRange(), flashAttentionSharedTiles(b.getContext(), q.getDimSize(3)));
  b.setInsertionPointToStart(&launch.getBody().front());
  // The roped queries and the rows the cache read returned are fresh
  // buffers, a paged op's keys and values the cache's pool; a kernel
  // benchmark's operands are weights.
  constexpr AlignedBuffers trusted = AlignedBuffers::WeightsAndAllocations;
  buildFlashAttention(b, loc, launch, op, T, S,
                      {hasAlignedRowsOfEight(op.getQ(), trusted),
                       hasAlignedRowsOfEight(op.getKeys(), trusted),
                       hasAlignedRowsOfEight(op.getValues(), trusted)});
  gpu::TerminatorOp::create(b, loc);
  op.erase();
  return success();
}

struct GpuFlashAttentionPass
    : impl::DgGpuFlashAttentionBase<GpuFlashAttentionPass> {
  void runOnOperation() override {
    SmallVector<dg::MaskedAttentionOp> ops;
    getOperation().walk([&](dg::MaskedAttentionOp op) {
      if (!op.getResult())
        ops.push_back(op);
    });
    for (dg::MaskedAttentionOp op : ops)
      if (failed(lowerToKernel(op)))
        return signalPassFailure();
  }
};

} // namespace
} // namespace dgc
