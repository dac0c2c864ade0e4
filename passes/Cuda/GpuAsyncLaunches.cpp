//===- GpuAsyncLaunches.cpp - Wait for kernels only where the host must ---===//
//
// gpu-to-llvm gives every synchronous launch its own stream and a wait, so
// the host stops after each of the thousands of kernels of a step. Here the
// kernels of a run of host code queue on one stream, and the host waits only
// before it touches what they may use:
//
//   launch, dealloc, alloc (async): chained after the pending token
//   pure ops, host-only buffers (shape operands, constants): no wait
//   anything else (copies, loads and stores of GPU buffers, calls, region
//   ops, terminators): gpu.wait [pending] first
//
// A wait that only ended a chain (after a dealloc) moves down to the next
// such op. Freeing a buffer while kernels are queued is the runtime's to
// order (it defers the free to the next wait).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/Utils/BufferUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace dgc {
#define GEN_PASS_DEF_DGGPUASYNCLAUNCHES
#include "passes/Passes.h.inc"
} // namespace dgc

using namespace mlir;

namespace dgc {
namespace {

/// Whether `v` lives in host memory that no kernel touches: a view of a
/// memref.alloc / alloca (shape operands) or of a constant global.
bool hostOnly(Value v) {
  v = viewRoot(v);
  Operation *def = v.getDefiningOp();
  return def &&
         isa<memref::AllocOp, memref::AllocaOp, memref::GetGlobalOp>(def);
}

/// Whether the host may run `op` while kernels are still queued.
bool mayOverlapKernels(Operation *op) {
  if (op->hasTrait<OpTrait::IsTerminator>() || op->getNumRegions() != 0)
    return false;
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  if (!effects)
    return false;
  SmallVector<MemoryEffects::EffectInstance> list;
  effects.getEffects(list);
  return llvm::all_of(list, [](const MemoryEffects::EffectInstance &e) {
    Value on = e.getValue();
    return on && hostOnly(on);
  });
}

struct GpuAsyncLaunches : impl::DgGpuAsyncLaunchesBase<GpuAsyncLaunches> {
  void runOnOperation() override {
    getOperation().walk([&](Block *block) {
      if (!block->getParentOp()->getParentOfType<gpu::GPUModuleOp>() &&
          !block->getParentOp()->getParentOfType<gpu::LaunchOp>() &&
          !isa<gpu::LaunchOp>(block->getParentOp()))
        chain(*block);
    });
  }

  void chain(Block &block) {
    auto tokenType = gpu::AsyncTokenType::get(&getContext());
    Value pending;
    for (Operation &op : llvm::make_early_inc_range(block)) {
      OpBuilder b(&op);
      if (auto wait = dyn_cast<gpu::WaitOp>(op)) {
        if (wait.getAsyncToken() && wait.getAsyncDependencies().empty()) {
          // A fresh stream: continue the pending one instead.
          if (pending) {
            wait.getAsyncToken().replaceAllUsesWith(pending);
            wait.erase();
          }
          continue;
        }
        if (!wait.getAsyncToken() && wait.getAsyncDependencies().size() == 1 &&
            (!pending || wait.getAsyncDependencies().front() == pending)) {
          // It ends the pending chain (or the only one): the host need not
          // wait yet, the next op that needs it will.
          pending = wait.getAsyncDependencies().front();
          wait.erase();
          continue;
        }
      }
      if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op);
          launch && !launch.getAsyncToken()) {
        Value after = pending ? pending
                              : gpu::WaitOp::create(b, op.getLoc(), tokenType,
                                                    ValueRange())
                                    .getAsyncToken();
        auto async = gpu::LaunchFuncOp::create(
            b, launch.getLoc(), launch.getKernelAttr(),
            launch.getGridSizeOperandValues(),
            launch.getBlockSizeOperandValues(),
            launch.getDynamicSharedMemorySize(), launch.getKernelOperands(),
            tokenType, ValueRange{after},
            launch.hasClusterSize()
                ? std::optional(launch.getClusterSizeOperandValues())
                : std::nullopt);
        launch.erase();
        pending = async.getAsyncToken();
        continue;
      }
      if (auto async = dyn_cast<gpu::AsyncOpInterface>(op);
          async && async.getAsyncToken()) {
        // Queued after another chain: that one is waited for first.
        if (pending &&
            !llvm::is_contained(async.getAsyncDependencies(), pending))
          gpu::WaitOp::create(b, op.getLoc(), Type(), ValueRange{pending});
        pending = async.getAsyncToken();
        continue;
      }
      if (isa<gpu::AllocOp>(op) || mayOverlapKernels(&op))
        continue;
      if (pending) {
        gpu::WaitOp::create(b, op.getLoc(), Type(), ValueRange{pending});
        pending = nullptr;
      }
    }
  }
};

} // namespace
} // namespace dgc
